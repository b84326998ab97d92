// Per-epoch metrics as JSON lines next to the checkpoint (NAME.metrics.jsonl),
// and reading them back for plots.
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/files.js';
import type { EpochMetrics } from './trainer.js';

function stem(out: string): string {
  return out.slice(0, out.length - path.extname(out).length);
}

export const metricsPath = (out: string) => `${stem(out)}.metrics.jsonl`;
export const plotPath = (out: string) => `${stem(out)}.svg`;

/** One line: every figure of the epoch, bits per token included. */
export function metricsLine(m: EpochMetrics): Record<string, number | null> {
  const num = (v: number) => (Number.isFinite(v) ? v : null);
  return {
    epoch: m.epoch,
    train_loss: num(m.trainLoss),
    train_ppl: num(m.trainPpl),
    train_bits: num(m.trainLoss / Math.LN2),
    val_loss: num(m.valLoss),
    val_ppl: num(m.valPpl),
    val_bits: num(m.valLoss / Math.LN2),
    val_acc: num(m.valAcc),
    tokens_per_s: num(m.tokensPerSec),
    lr: num(m.lr),
    grad_norm: num(m.gradNorm),
    seconds: num(m.seconds),
    skipped: m.skipped,
  };
}

/** Appends one epoch's line. */
export function appendMetrics(file: string, m: EpochMetrics): void {
  appendFileSync(file, JSON.stringify(metricsLine(m)) + '\n');
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
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new InputError(`metrics file ${file}: line ${i + 1} is not JSON`);
    }
    const epoch = o.epoch;
    if (!Number.isSafeInteger(epoch) || (epoch as number) < 1) throw new InputError(`metrics file ${file}: line ${i + 1} has no valid "epoch"`);
    const ppl = (v: unknown) => (typeof v === 'number' ? v : NaN);
    byEpoch.set(epoch as number, { epoch: epoch as number, trainPpl: ppl(o.train_ppl), valPpl: ppl(o.val_ppl) });
  });
  if (byEpoch.size === 0) throw new InputError(`metrics file ${file} has no epochs`);
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
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
