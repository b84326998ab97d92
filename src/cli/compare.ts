// deeprnn compare --cells gru,lstm,rnn: the book's exercise 1. Each cell
// trains on the same data, seed and budget; a table and one SVG with every
// curve compare accuracy and speed.
import path from 'node:path';
import type { Command } from 'commander';
import { writePlot } from '../io/plot.js';
import { CELLS, paramCount, paramTable } from '../nn/config.js';
import type { CellKind } from '../native.js';
import { runTraining } from '../train/run.js';
import { UsageError } from './errors.js';
import { write } from './output.js';
import { formatNumber, renderTable } from './table.js';
import { checkWritable, refuseOverwrite } from '../io/files.js';
import { resolveDataDir } from '../data/corpus.js';
import { corpusFiles } from '../train/run-files.js';
import { epochLine } from './progress.js';
import { addRunOptions, parseTrainOptions } from './train.js';

export function registerCompare(program: Command): void {
  addRunOptions(program
    .command('compare')
    .description("train several cells on the same data, seed and budget, and compare them (the book's exercise 1)")
    .option('--cells <list>', `cells to compare, from ${CELLS.join(',')}`, 'gru,lstm,rnn'))
    .option('--out-dir <dir>', 'where each run\'s checkpoint (CELL.safetensors), its metrics and the comparison plot go', 'checkpoints/compare')
    .option('--json', 'print one JSON object with the results on stdout, nothing else')
    .action(async (raw: Record<string, unknown> & { cells: string; outDir: string; json?: boolean }, cmd: Command) => {
      const cells = raw.cells.split(',').map((c) => c.trim()).filter(Boolean);
      for (const c of cells) {
        if (!CELLS.includes(c as CellKind)) throw new UsageError(`--cells must list cells from ${CELLS.join(',')}, got "${c}"`);
      }
      if (cells.length === 0) throw new UsageError(`--cells must list cells from ${CELLS.join(',')}, got ""`);
      // Each cell's run writes to OUT-DIR/CELL.safetensors.
      const base = parseTrainOptions({ ...raw, corpus: raw.corpus as string[], out: '' }, (name) => cmd.getOptionValueSource(name) === 'cli', null);
      const log = (s: string) => (raw.json ? process.stderr.write(s + '\n') : write(s + '\n'));
      const plot = path.join(raw.outDir, 'compare.svg');
      checkWritable(plot, 'the comparison plot');
      refuseOverwrite(corpusFiles(base.corpus, resolveDataDir(base.dataDir)).map((p) => ({ label: '--corpus', path: p })),
        [{ label: 'the comparison plot', path: plot }]);
      const rows = [];
      const runs = [];
      for (const cell of cells as CellKind[]) {
        const out = path.join(raw.outDir, `${cell}.safetensors`);
        const r = await runTraining({ ...base, cell, out }, { onEpoch: (m) => log(`${cell.padEnd(8)} ${epochLine(m, base.epochs)}`) });
        const best = r.history.reduce((a, b) => (b.valPpl < a.valPpl ? b : a));
        const last = r.history[r.history.length - 1]!;
        const perEpoch = base.numTrain * base.numSteps;
        const trainSeconds = r.history.reduce((a, m) => a + (m.tokensPerSec > 0 ? perEpoch / m.tokensPerSec : 0), 0);
        const hidden = base.hidden.length === 1 ? Array.from({ length: base.layers }, () => base.hidden[0]!) : base.hidden;
        rows.push({
          cell,
          final_val_ppl: last.valPpl,
          best_val_ppl: best.valPpl,
          best_epoch: best.epoch,
          seconds: r.seconds,
          tokens_per_s: trainSeconds > 0 ? (perEpoch * r.history.length) / trainSeconds : 0,
          parameters: paramCount(paramTable({ cell, vocabSize: r.tokenizer.vocab.size, hidden, dropout: base.dropout })),
          checkpoint: out,
        });
        runs.push({ label: cell, epochs: r.history });
      }
      try {
        writePlot(plot, runs, `perplexity: ${cells.join(', ')}`);
      } catch (e) {
        throw new Error(`could not write the comparison plot ${plot} (${(e as Error).message}); the runs' checkpoints are saved in ${raw.outDir}`);
      }
      if (raw.json) {
        write(JSON.stringify({ results: rows, plot }) + '\n');
        return;
      }
      log('');
      const table = renderTable(
        ['cell', 'final val ppl', 'best val ppl (epoch)', 'wall time', 'tokens/s', 'parameters'],
        rows.map((r) => [r.cell, formatNumber(r.final_val_ppl), `${formatNumber(r.best_val_ppl)} (${r.best_epoch})`, `${r.seconds.toFixed(1)} s`,
          String(Math.round(r.tokens_per_s)), String(r.parameters)]),
        [8, 13, 20, 9, 9],
      );
      log(table.trimEnd());
      log(`plot: ${plot}`);
    });
}
