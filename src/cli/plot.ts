// deeprnn plot METRICS... -o FILE.svg: the book's perplexity figure for one or
// several runs' metrics files.
import path from 'node:path';
import type { Command } from 'commander';
import { checkWritable, refuseOverwrite, removeStaleTemps } from '../io/files.js';
import { writePlot } from '../io/plot.js';
import { readMetricsFile } from '../train/metrics.js';
import { UsageError } from './errors.js';
import { write } from './output.js';
import { requiredOption } from './options.js';

export function registerPlot(program: Command): void {
  program
    .command('plot')
    .description('plot train and validation perplexity of one or more runs (their NAME.metrics.jsonl files) as SVG')
    .argument('<metrics...>', 'metrics files written next to checkpoints')
    .addOption(requiredOption('-o, --out <file.svg>', 'SVG file to write'))
    .option('--title <text>', 'title of the figure', 'perplexity')
    .option('--json', 'print {"plot": FILE, "runs": [...]}')
    .action((files: string[], raw: { out: string; title: string; json?: boolean }) => {
      if (!raw.out.endsWith('.svg')) throw new UsageError(`--out must name an .svg file, got "${raw.out}"`);
      checkWritable(raw.out, '--out');
      refuseOverwrite(files.map((f) => ({ label: 'metrics file', path: f })), [{ label: '--out', path: raw.out }]);
      const runs = files.map((f) => ({ label: path.basename(f).replace(/\.metrics\.jsonl$/, ''), epochs: readMetricsFile(f) }));
      removeStaleTemps([raw.out]);
      try {
        writePlot(raw.out, runs, raw.title);
      } catch (e) {
        throw new Error(`could not write --out ${raw.out} (${(e as Error).message})`);
      }
      if (raw.json) write(JSON.stringify({ plot: raw.out, runs: runs.map((r) => ({ label: r.label, epochs: r.epochs.length })) }) + '\n');
      else write(`wrote ${raw.out} (${runs.map((r) => `${r.label}: ${r.epochs.length} epochs`).join(', ')})\n`);
    });
}
