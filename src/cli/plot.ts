// deeprnn plot METRICS... -o FILE.svg: the book's perplexity figure for one or
// several runs' metrics files.
import path from 'node:path';
import type { Command } from 'commander';
import { checkWritable, refuseOverwrite, removeStaleTemps, sameFile } from '../io/files.js';
import { isForeignSvg, writePlot } from '../io/plot.js';
import { readMetricsFile } from '../train/metrics.js';
import { InputError } from '../errors.js';
import { UsageError } from './errors.js';
import { emit } from './output.js';
import { plural } from '../validate.js';
import { addOptions, formatOptions, outputFormat, requiredOption } from './options.js';

export function registerPlot(program: Command): void {
  const command = program
    .command('plot')
    .description('plot train and validation perplexity of one or more runs (their NAME.metrics.jsonl files) as SVG')
    .argument('<metrics...>', 'metrics files written next to checkpoints')
    .addOption(requiredOption('-o, --out <file.svg>', 'SVG file to write'))
    .option('--title <text>', 'title of the figure', 'perplexity');
  addOptions(command, formatOptions(['text', 'json']))
    .action((files: string[], raw: { out: string; title: string }, cmd: Command) => {
      const format = outputFormat(cmd, ['text', 'json']);
      if (!raw.out.endsWith('.svg')) throw new UsageError(`--out must name an .svg file, got "${raw.out}"`);
      checkWritable(raw.out, '--out');
      refuseOverwrite(files.map((f) => ({ label: 'metrics file', path: f })), [{ label: '--out', path: raw.out }]);
      if (isForeignSvg(raw.out)) {
        throw new UsageError(`--out ${raw.out} would replace a file that is not an SVG image (it begins with none of "<svg", "<?xml" and "<!"): `
          + 'move it away, or choose another --out');
      }
      // One file given twice (by another spelling, or through a link) would be two runs of one label.
      files.forEach((f, i) => {
        const j = files.findIndex((g) => sameFile(g, f));
        if (j < i) throw new UsageError(`metrics file ${f} is ${files[j]} again: each run is plotted once`);
      });
      // Each run by its file's name, or by its path where two files share a name (runs/a/deeprnn, runs/b/deeprnn).
      const name = (f: string) => path.basename(f).replace(/\.metrics\.jsonl$/, '');
      const shared = (f: string) => files.filter((g) => name(g) === name(f)).length > 1;
      const runs = files.map((f) => {
        const epochs = readMetricsFile(f);
        // Epochs whose perplexities are all missing (or not finite) would draw an empty chart.
        if (!epochs.some((e) => Number.isFinite(e.trainPpl) || Number.isFinite(e.valPpl))) {
          throw new InputError(`metrics file ${f} has no epoch with a finite perplexity (trainPpl or valPpl): nothing to plot`);
        }
        return { label: shared(f) ? f.replace(/\.metrics\.jsonl$/, '') : name(f), epochs };
      });
      removeStaleTemps([raw.out]);
      try {
        writePlot(raw.out, runs, raw.title);
      } catch (e) {
        throw new Error(`could not write --out ${raw.out} (${(e as Error).message})`);
      }
      const records = runs.map((r) => ({ label: r.label, epochs: r.epochs.length }));
      emit({
        json: { plot: raw.out, runs: records },
        text: () => `wrote ${raw.out} (${records.map((r) => `${r.label}: ${plural(r.epochs, 'epoch')}`).join(', ')})\n`,
      }, format);
    });
}
