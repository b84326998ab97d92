// Per-epoch metrics as JSON lines next to the checkpoint (NAME.metrics.jsonl),
// one record per epoch with camelCase keys (the record the command line's
// epoch lines show), and reading them back for plots: files written before
// the keys were camelCase (train_ppl, val_ppl) read as well. The best epoch
// and the run's training throughput, as every command reports them.
import { appendFileSync, existsSync, readFileSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/files.js';
import type { EpochMetrics } from './trainer.js';

function stem(out: string): string {
  return out.slice(0, out.length - path.extname(out).length);
}

export const metricsPath = (out: string) => `${stem(out)}.metrics.jsonl`;
export const plotPath = (out: string) => `${stem(out)}.svg`;

/** An epoch's record: every figure of the epoch, bits per token included; null for a figure that is not finite. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number | null;
  trainPpl: number | null;
  trainBits: number | null;
  valLoss: number | null;
  valPpl: number | null;
  valBits: number | null;
  valAcc: number | null;
  tokensPerSec: number | null;
  lr: number | null;
  gradNorm: number | null;
  seconds: number | null;
  skipped: number;
}

/** One line of NAME.metrics.jsonl (and the record of the epoch's line on the terminal). */
export function metricsLine(m: EpochMetrics): EpochRecord {
  const num = (v: number) => (Number.isFinite(v) ? v : null);
  return {
    epoch: m.epoch,
    trainLoss: num(m.trainLoss),
    trainPpl: num(m.trainPpl),
    trainBits: num(m.trainLoss / Math.LN2),
    valLoss: num(m.valLoss),
    valPpl: num(m.valPpl),
    valBits: num(m.valLoss / Math.LN2),
    valAcc: num(m.valAcc),
    tokensPerSec: num(m.tokensPerSec),
    lr: num(m.lr),
    gradNorm: num(m.gradNorm),
    seconds: num(m.seconds),
    skipped: m.skipped,
  };
}

/**
 * Appends one epoch's line, whole or not at all: a write that fails part way
 * (a full disk, a file size limit) is cut back to the file's length before it,
 * so that the file keeps only whole lines.
 */
export function appendMetrics(file: string, m: EpochMetrics, hasLines = false): void {
  const line = JSON.stringify(metricsLine(m)) + '\n';
  // The length to cut back to: 0 for a new file (a failed first write leaves nothing), none when it cannot be known.
  let before: number | null = null;
  try {
    before = statSync(file).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // A file that holds earlier epochs is not made again without them (before, a file removed during a run came back with its later epochs alone).
    if (hasLines) throw Object.assign(new Error('it was removed while the run went on, with the epochs before this one'), { code: 'ENOENT' });
    before = 0;
  }
  try {
    appendFileSync(file, line);
  } catch (e) {
    try {
      if (before !== null) truncateSync(file, before);
    } catch {
      // (the append's own error is the one to tell)
    }
    throw e;
  }
}

/** Writes the file afresh with one line per epoch of `history` (atomically; a symlink is written through). */
export function writeMetrics(file: string, history: readonly EpochMetrics[]): void {
  const lines: string[] = [];
  for (const m of history) lines.push(JSON.stringify(metricsLine(m)) + '\n');
  writeFileAtomic(file, lines.join(''));
}

export interface MetricsPoint {
  epoch: number;
  trainPpl: number;
  valPpl: number;
}

/** The epochs of a metrics file (a later line for the same epoch, after a resume, wins). */
export function readMetricsFile(file: string): MetricsPoint[] {
  if (!existsSync(file)) throw new InputError(`metrics file ${file} does not exist`);
  if (!statSync(file).isFile()) throw new InputError(`metrics file ${file} is not a regular file (expected NAME.metrics.jsonl written by deeprnn train)`);
  const byEpoch = new Map<number, MetricsPoint>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    // (a file past the longest string V8 makes, some 512 MiB: no run writes one)
    if ((e as NodeJS.ErrnoException).code === 'ERR_STRING_TOO_LONG') {
      throw new InputError(`metrics file ${file} is ${statSync(file).size.toLocaleString('en-US')} bytes, more than can be read as text here (about 512 MiB)`);
    }
    throw e;
  }
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new InputError(`metrics file ${file}: line ${i + 1} is not JSON`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new InputError(`metrics file ${file}: line ${i + 1} is not a JSON object with an "epoch"`);
    const epoch = o.epoch;
    if (!Number.isSafeInteger(epoch) || (epoch as number) < 1) throw new InputError(`metrics file ${file}: line ${i + 1} has no valid "epoch"`);
    // camelCase, or the snake_case of files written before (train_ppl).
    const ppl = (key: string, old: string) => {
      const found = o[key] !== undefined && o[key] !== null ? key : old;
      const v = o[key] ?? o[old];
      // Absent or null: no value that epoch (a gap in the curve); anything but a number is a damaged line.
      if (v !== undefined && v !== null && typeof v !== 'number') {
        throw new InputError(`metrics file ${file}: line ${i + 1} has ${found} ${JSON.stringify(v)}, which is not a number`);
      }
      // A perplexity is at least 1: a smaller one is no run's (a file written by hand, or damaged).
      if (typeof v === 'number' && Number.isFinite(v) && v < 1) {
        throw new InputError(`metrics file ${file}: line ${i + 1} has ${key} ${v}, but a perplexity is at least 1`);
      }
      return typeof v === 'number' ? v : NaN;
    };
    byEpoch.set(epoch as number, { epoch: epoch as number, trainPpl: ppl('trainPpl', 'train_ppl'), valPpl: ppl('valPpl', 'val_ppl') });
  });
  if (byEpoch.size === 0) throw new InputError(`metrics file ${file} has no epochs`);
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

/** The epoch with the lowest validation perplexity (the first of equals), or undefined when none has a finite one. */
export function bestEpoch<M extends { valPpl: number }>(history: readonly M[]): M | undefined {
  let best: M | undefined;
  for (const m of history) if (Number.isFinite(m.valPpl) && (!best || m.valPpl < best.valPpl)) best = m;
  return best;
}

/**
 * Training tokens per second over the run's epochs: their tokens over their
 * training time. Every epoch trains on as many tokens, so it is the harmonic
 * mean of the epochs' rates (of those that measured one); 0 when none did.
 */
export function runTokensPerSec(history: readonly Pick<EpochMetrics, 'tokensPerSec'>[]): number {
  const rates = history.map((m) => m.tokensPerSec).filter((r) => r > 0);
  return rates.length ? rates.length / rates.reduce((a, r) => a + 1 / r, 0) : 0;
}

/** A one-line chart of a series with block characters, at most `width` columns. */
export function sparkline(values: number[], width = 60): string {
  const bars = '▁▂▃▄▅▆▇█';
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo > hi) return '';
  const cols = Math.min(width, values.length);
  let out = '';
  for (let c = 0; c < cols; c++) {
    const v = values[Math.floor((c * values.length) / cols)]!;
    out += Number.isFinite(v) ? bars[hi > lo ? Math.round(((v - lo) / (hi - lo)) * (bars.length - 1)) : 0] : ' ';
  }
  return out;
}
