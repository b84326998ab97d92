// deeprnn compare --cells gru,lstm,rnn: the book's exercise 1. Each cell
// trains on the same data, seed and budget; a table and one SVG with every
// curve compare accuracy and speed.
import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { isForeignSvg, writePlot } from '../io/plot.js';
import { CELLS, paramCount, paramTable } from '../nn/config.js';
import type { CellKind } from '../native.js';
import { NonFiniteError, type TrainState } from '../train/trainer.js';
import { InputError } from '../errors.js';
import { terminalSafe } from '../validate.js';
import { inJob } from '../mpi.js';
import { UsageError } from './errors.js';
import { addOptions, bf16Note, formatOptions, outputFormat } from './options.js';
import { emit, renderRecords, type Column } from './output.js';
import { formatNumber } from './table.js';
import { checkWritable, refuseOverwrite } from '../io/files.js';
import { resolveDataDir } from '../data/corpus.js';
import { corpusFiles, RunFiles } from '../train/run-files.js';
import { checkRunOutputs, refuseForeignCheckpoint, runLocks } from '../train/run.js';
import { refuseHeldLock } from '../io/lock.js';
import { bestEpoch, runTokensPerSec } from '../train/metrics.js';
import { Progress } from './progress.js';
import { SIGNAL_ECHO_MS, trainInThread, type ThreadResult } from './train-thread.js';
import { addRunOptions, parseTrainOptions, resumeOptions, shellWord, type RawTrainOptions } from './train.js';

/** A cell's row: how its run ended, how fast it trained, its size and checkpoint. */
export interface CompareRow {
  cell: CellKind;
  finalValPpl: number;
  bestValPpl: number;
  bestEpoch: number;
  seconds: number;
  tokensPerSec: number;
  parameters: number;
  checkpoint: string;
}

const COMPARE_COLUMNS: Column<CompareRow>[] = [
  { key: 'cell', header: 'cell', width: 10 },
  { key: 'finalValPpl', header: 'final val ppl', text: (r) => formatNumber(r.finalValPpl), width: 15 },
  { key: 'bestValPpl', header: 'best val ppl (epoch)', text: (r) => `${formatNumber(r.bestValPpl)} (${r.bestEpoch})`, width: 22 },
  { key: 'seconds', header: 'wall time', text: (r) => `${r.seconds.toFixed(1)} s`, width: 11 },
  { key: 'tokensPerSec', header: 'tokens/s', text: (r) => String(Math.round(r.tokensPerSec)), width: 11 },
  { key: 'parameters', header: 'parameters' },
];
/** CSV has every field, the best epoch its own column. */
const COMPARE_CSV_COLUMNS: Column<CompareRow>[] = (['cell', 'finalValPpl', 'bestValPpl', 'bestEpoch', 'seconds', 'tokensPerSec', 'parameters', 'checkpoint'] as const)
  .map((key) => ({ key, header: key }));

export function registerCompare(program: Command): void {
  const command = addRunOptions(program
    .command('compare')
    .description("train several cells on the same data, seed and budget, and compare them (the book's exercise 1)")
    .option('--cells <list>', `cells to compare, from ${CELLS.join(',')}`, 'gru,lstm,rnn'))
    .option('--out-dir <dir>', 'where each run\'s checkpoint (CELL.safetensors), its metrics and the comparison plot go', 'checkpoints/compare');
  addOptions(command, formatOptions(['text', 'json', 'csv'], 'one row per cell'))
    .action(async (raw: Record<string, unknown> & { cells: string; outDir: string }, cmd: Command) => {
      const format = outputFormat(cmd, ['text', 'json', 'csv']);
      if (inJob()) {
        throw new UsageError('deeprnn compare runs in one process: under an MPI launcher run "deeprnn train --cell CELL" for each cell '
          + '(the ranks share each run)');
      }
      const cells = raw.cells.split(',').map((c) => c.trim());
      // (an empty entry, "gru,,lstm" or ",", is a slip, not a cell to leave out)
      if (cells.some((c) => c === '')) {
        throw new UsageError(`--cells must list cells from ${CELLS.join(',')}, separated by single commas, got ${JSON.stringify(raw.cells)}`);
      }
      for (const c of cells) {
        if (!CELLS.includes(c as CellKind)) throw new UsageError(`--cells must list cells from ${CELLS.join(',')}, got "${c}"`);
      }
      // A cell named twice would train twice into the same OUT-DIR/CELL.safetensors.
      const twice = cells.find((c, i) => cells.indexOf(c) !== i);
      if (twice) throw new UsageError(`--cells names ${twice} twice: each cell trains once, into --out-dir as ${twice}.safetensors`);
      // Each cell's run writes to OUT-DIR/CELL.safetensors.
      if (raw.outDir.trim() === '') throw new UsageError(`--out-dir must be a directory path, got ${JSON.stringify(raw.outDir)}`);
      const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
      const rawTrain: RawTrainOptions = { ...raw, corpus: raw.corpus as string[], out: '' };
      const base = parseTrainOptions(rawTrain, given, null);
      if (base.precision === 'bf16') bf16Note();
      const plot = path.join(raw.outDir, 'compare.svg');
      checkWritable(plot, 'the comparison plot');
      refuseOverwrite(corpusFiles(base.corpus, resolveDataDir(base.dataDir)).map((p) => ({ label: '--corpus', path: p })),
        [{ label: 'the comparison plot', path: plot }]);
      if (isForeignSvg(plot)) {
        throw new UsageError(`the comparison plot ${plot} would replace a file that is not an SVG image (it begins with none of "<svg", "<?xml" and "<!"): `
          + 'move it away, or choose another --out-dir');
      }
      // Every cell's outputs before the first cell trains: one in the way (a
      // directory, another run's lock) would otherwise stop the comparison
      // after the cells before it had trained. Each run checks its own again.
      for (const cell of cells) {
        const files = new RunFiles(path.join(raw.outDir, `${cell}.safetensors`));
        checkRunOutputs(files);
        refuseForeignCheckpoint(files.out, `${cell}'s checkpoint ${files.out}`, '--out-dir');
        for (const [file, what] of runLocks(files, `${cell}'s checkpoint ${files.out}`)) refuseHeldLock(file, what);
      }
      const rows: CompareRow[] = [];
      const runs = [];
      /** Cells whose training diverged: the others still train and are compared. */
      const failed: { cell: CellKind; error: string }[] = [];
      // Each cell trains on the training thread as deeprnn train does, so a
      // first SIGINT or SIGTERM stops it after its batch (it saves) and a
      // second Ctrl-C quits at once. compare's own listeners record the signal
      // for the whole loop (between cells too, where the training thread's are
      // not installed), so that no later cell starts and the cells trained so
      // far are compared; the SIGINT one goes 0.1 s after the first signal, leaving a
      // second Ctrl-C its default action.
      let signal: 'SIGINT' | 'SIGTERM' | null = null;
      let running = false;
      const onSignal = (sig: NodeJS.Signals) => {
        if (signal) return;
        signal = sig === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
        // (the same signal again at once is its echo, as for deeprnn train: a Ctrl-C after that moment quits at once)
        setTimeout(() => process.off('SIGINT', onSignal), SIGNAL_ECHO_MS).unref();
        if (!running) process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}${sig}: stopping before the next cell\n`);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let stoppedAt: { cell: CellKind; out: string; state: TrainState } | null = null;
      let outputFailed = false;
      const hidden = base.hidden.length === 1 ? Array.from({ length: base.layers }, () => base.hidden[0]!) : base.hidden;
      try {
        for (const cell of cells as CellKind[]) {
          if (signal) break;
          const out = path.join(raw.outDir, `${cell}.safetensors`);
          let r: ThreadResult;
          running = true;
          try {
            const ran = await trainInThread({ ...base, cell, out }, undefined, new Progress(base.epochs, format, undefined, cell));
            r = ran.result;
            if (r.stopped && (signal || ran.outputFailed)) stoppedAt = { cell, out, state: r.state };
            outputFailed = ran.outputFailed;
          } catch (e) {
            if (e instanceof NonFiniteError) {
              failed.push({ cell, error: e.message });
              continue;
            }
            // (an option or file the message names is every cell's; anything else is this cell's run)
            if (!(e instanceof InputError) && e instanceof Error) e.message = `${cell}: ${e.message}`;
            throw e;
          } finally {
            running = false;
          }
          const best = bestEpoch(r.history);
          const last = r.history[r.history.length - 1];
          if (best && last) { // (a cell stopped in its first epoch has nothing to compare yet)
            rows.push({
              cell,
              finalValPpl: last.valPpl,
              bestValPpl: best.valPpl,
              bestEpoch: best.epoch,
              seconds: r.seconds,
              tokensPerSec: runTokensPerSec(r.history),
              parameters: paramCount(paramTable({ cell, vocabSize: r.vocabSize, hidden, dropout: base.dropout })),
              checkpoint: out,
            });
            runs.push({ label: cell, epochs: r.history });
          }
          if (outputFailed) break;
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      const stopLine = () => {
        if (stoppedAt) {
          process.stderr.write(`stopped ${stoppedAt.cell} at epoch ${stoppedAt.state.epoch + 1}, batch ${stoppedAt.state.batch}; checkpoint ${stoppedAt.out}; `
            + `resume with: deeprnn train --resume ${shellWord(stoppedAt.out)}${resumeOptions(rawTrain, given)}\n`);
        }
      };
      if (outputFailed) {
        // (main.ts said so and set the exit code; nothing more goes to stdout)
        stopLine();
        return;
      }
      try {
        // The cells trained; with none, an earlier comparison's plot is kept aside rather than left beside these runs' files.
        if (runs.length) writePlot(plot, runs, `perplexity: ${runs.map((r) => r.label).join(', ')}`);
        else if (existsSync(plot)) renameSync(plot, `${plot}.bak`);
      } catch (e) {
        throw new Error(`could not write the comparison plot ${plot} (${(e as Error).message}); the runs' checkpoints are saved in ${raw.outDir}`);
      }
      emit({
        json: {
          results: rows, plot: runs.length ? plot : null, failed,
          stopped: stoppedAt && { cell: stoppedAt.cell, epoch: stoppedAt.state.epoch, batch: stoppedAt.state.batch, signal, checkpoint: stoppedAt.out },
        },
        // (no cell finished: no table of nothing; stderr says why each failed)
        text: () => (rows.length ? `\n${renderRecords('text', COMPARE_COLUMNS, rows)}` : '') + (runs.length ? `plot: ${plot}\n` : ''),
        csv: { columns: COMPARE_CSV_COLUMNS, rows },
      }, format);
      for (const f of failed) process.stderr.write(`deeprnn: error: ${f.cell}: ${terminalSafe(f.error)}\n`);
      stopLine();
      // As deeprnn train: 130 after SIGINT, 143 after SIGTERM; 1 when a cell diverged.
      if (signal) process.exitCode = signal === 'SIGINT' ? 130 : 143;
      else if (failed.length) process.exitCode = 1;
    });
}
