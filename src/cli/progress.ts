// Training progress: a cli-progress bar per epoch on a terminal, else one
// plain line per epoch. With --json (--format json) the lines go to stderr. The bar's line
// fits the terminal, at most 80 columns:
//   epoch 3/100 |███████░░░░░░░| 5/10 0:01<0:01  ppl 12.35  1.8M tok/s  run 0:05<2:40
// (the epoch's batches, its elapsed<remaining time, the running perplexity,
// training tokens per second, and the whole run's elapsed<remaining time).
import cliProgress from 'cli-progress';
import { underLauncher } from '../mpi.js';
import { metricsLine, type EpochRecord } from '../train/metrics.js';
import type { EpochMetrics } from '../train/trainer.js';
import { fieldsLine, type Field, type Format } from './output.js';

/** A figure with `digits` decimals; "-" for one that is not finite (null in the record). */
const fixed = (v: number | null, digits: number) => (v === null ? '-' : v.toFixed(digits));

/** The figures of an epoch's line, from its record (the one NAME.metrics.jsonl holds), for a run of `epochs` epochs. */
export function epochFields(epochs: number): Field<EpochRecord>[] {
  return [
    { label: 'epoch', text: (r) => `${r.epoch}/${epochs}` },
    { label: 'train ppl', text: (r) => fixed(r.trainPpl, 3) },
    { label: 'val ppl', text: (r) => fixed(r.valPpl, 3) },
    { label: 'val bits', text: (r) => fixed(r.valBits, 3) },
    { label: 'val acc', text: (r) => fixed(r.valAcc, 3) },
    { label: 'lr', text: (r) => (r.lr === null ? '-' : String(Number(r.lr.toPrecision(4)))) },
    { label: 'grad norm', text: (r) => fixed(r.gradNorm, 3) },
    { label: 'tokens/s', text: (r) => fixed(r.tokensPerSec, 0) },
    { text: (r) => `${fixed(r.seconds, 2)}s` },
    { label: 'skipped', text: (r) => (r.skipped ? String(r.skipped) : null) },
  ];
}

/** An epoch's line: epoch 1/100  train ppl 19.965  val ppl 17.233  ...  tokens/s 1792662  0.21s */
export function epochLine(m: EpochMetrics, epochs: number): string {
  return fieldsLine(epochFields(epochs), metricsLine(m));
}

/** The widest line the bar writes. */
export const BAR_COLUMNS = 80;

/** What the bar shows after a batch. */
export interface BarState {
  epoch: number;
  epochs: number;
  /** Batches done of the epoch's total. */
  done: number;
  total: number;
  /** exp of the last batch's loss. */
  ppl: number;
  tokensPerSec: number;
  /** Seconds since the epoch started in this process, and the batches run since (fewer than done in a resumed epoch). */
  epochSeconds: number;
  epochBatches: number;
  /** Seconds since this process's first batch started, and the batches done since. */
  runSeconds: number;
  runBatches: number;
}

/** Seconds as m:ss, or h:mm:ss from an hour; "?" when not known yet. */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

const compact = (x: number) => (!Number.isFinite(x) ? '-' : x < 1e4 ? String(Math.round(x)) : x < 1e6 ? `${Math.round(x / 1e3)}k` : `${(x / 1e6).toFixed(1)}M`);
const pplText = (p: number) => (!Number.isFinite(p) ? '-' : p < 1000 ? p.toFixed(2) : p.toPrecision(3));

/**
 * The bar's line, at most `width` columns: the epoch, a bar as wide as the
 * rest leaves room for (at most 30 cells), the epoch's batches and
 * elapsed<remaining time, the perplexity, tokens/s and the run's
 * elapsed<remaining time (estimated from the batches this process has run,
 * validation included). Where the pieces cannot all fit, the least useful
 * go first (tokens/s, then the perplexity, then the bar).
 */
export function barLine(s: BarState, width = BAR_COLUMNS): string {
  const epochLeft = s.epochBatches > 0 ? (s.epochSeconds / s.epochBatches) * (s.total - s.done) : NaN;
  const runLeftBatches = (s.epochs - s.epoch) * s.total + (s.total - s.done);
  const runLeft = s.runBatches > 0 ? (s.runSeconds / s.runBatches) * runLeftBatches : NaN;
  const head = `epoch ${s.epoch}/${s.epochs}`;
  // Figures padded to their usual widths, so that the bar keeps its length from batch to batch.
  const count = `${String(s.done).padStart(String(s.total).length)}/${s.total} ${clock(s.epochSeconds)}<${clock(epochLeft).padEnd(4)}`;
  const run = `run ${clock(s.runSeconds)}<${clock(runLeft)}`;
  const optional = [`ppl ${pplText(s.ppl).padStart(5)}`, `${compact(s.tokensPerSec).padStart(4)} tok/s`];
  const bar = (cells: number) => {
    const filled = s.total > 0 ? Math.round((cells * Math.min(s.done, s.total)) / s.total) : 0;
    return `|${'█'.repeat(filled)}${'░'.repeat(cells - filled)}|`;
  };
  for (let keep = optional.length; keep >= 0; keep--) {
    const tail = [count, ...optional.slice(0, keep), run].join('  ');
    const cells = Math.min(30, width - head.length - tail.length - 4);
    if (cells >= 5) return `${head} ${bar(cells)} ${tail}`;
  }
  const line = `${head} ${count}  ${run}`;
  return line.length <= width ? line : line.slice(0, width);
}

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private loadBar: cliProgress.SingleBar | null = null;
  /** When the run's training and the current epoch started (performance.now()), and the batches run since each. */
  private runStart = NaN;
  private epochStart = NaN;
  private runBatches = 0;
  private epochBatches = 0;
  private readonly tty: boolean;
  private readonly out: NodeJS.WriteStream;

  /** `label`: a name before every epoch line (compare's cell). */
  constructor(
    private readonly epochs: number,
    format: Format,
    stream?: NodeJS.WriteStream,
    private readonly label?: string,
  ) {
    this.out = stream ?? (format === 'text' ? process.stdout : process.stderr);
    // (not under an MPI launcher, of one rank or several: Open MPI gives a rank's output a pseudo-terminal wherever
    // mpirun's goes, and `mpirun ... > train.log` got every redraw of the bar)
    this.tty = Boolean(this.out.isTTY) && !process.env.CI && !underLauncher();
  }

  /** Whether bars are drawn (a terminal, not CI): else news of batches changes nothing shown. */
  get drawsBars(): boolean {
    return this.tty;
  }

  log(msg: string): void {
    this.out.write(msg + '\n');
  }

  /** Training starts (the corpus is read and the model built): the run's clock and the first epoch's start. */
  start(): void {
    this.runStart = this.epochStart = performance.now();
  }

  /** A bar while a corpus of more than 8 MiB is read (twice: counting, then encoding). */
  loading(done: number, total: number): void {
    if (!this.tty || total < 16 << 20) return;
    if (!this.loadBar) {
      this.loadBar = new cliProgress.SingleBar(
        { stream: this.out, format: 'reading corpus |{bar}| {percentage}%  {value}/{total} MiB', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      this.loadBar.start(Math.ceil(total / 2 ** 20), 0);
    }
    this.loadBar.update(Math.floor(done / 2 ** 20));
    if (done >= total) {
      this.loadBar.stop();
      this.loadBar = null;
    }
  }

  /**
   * After a batch: batches done of the epoch's total, the batch's loss, training tokens so far
   * this epoch, the batches run since the last call (the worker sends news of some batches only)
   * and, when known, the epoch's seconds of training so far, as the training thread timed them.
   */
  batch(epoch: number, done: number, total: number, loss: number, tokens: number, ran = 1, seconds?: number): void {
    const now = performance.now();
    if (Number.isNaN(this.runStart)) this.start();
    this.runBatches += ran;
    this.epochBatches += ran;
    if (!this.tty) return;
    const epochSeconds = (now - this.epochStart) / 1000;
    // The training thread's own rate when it sends its seconds (the epoch line's tokens/s so far): news
    // that waited in the queue behind the epoch line would otherwise be timed from when it was read
    // (an epoch of the book's run, a tenth of a second, showed 900M tok/s). Else rates from the batches
    // this process ran (a resumed epoch starts part-way; `tokens` counts the whole epoch's).
    const state: BarState = {
      epoch, epochs: this.epochs, done, total, ppl: Math.exp(loss),
      tokensPerSec: seconds !== undefined ? (seconds > 0 ? tokens / seconds : NaN)
        : epochSeconds > 0 ? ((tokens / done) * this.epochBatches) / epochSeconds : NaN,
      epochSeconds, epochBatches: this.epochBatches, runSeconds: (now - this.runStart) / 1000, runBatches: this.runBatches,
    };
    if (this.bar) {
      this.bar.update(done, state);
      return;
    }
    this.bar = new cliProgress.SingleBar({
      stream: this.out,
      format: (_options, _params, payload: BarState) => barLine(payload, Math.min(BAR_COLUMNS, this.out.columns || BAR_COLUMNS)),
      hideCursor: true,
      clearOnComplete: true,
      linewrap: false,
    });
    this.bar.start(total, done, state);
  }

  epoch(m: EpochMetrics): void {
    this.stop();
    this.log(this.label === undefined ? epochLine(m, this.epochs) : `${this.label.padEnd(8)} ${epochLine(m, this.epochs)}`);
    this.epochStart = performance.now();
    this.epochBatches = 0;
  }

  stop(): void {
    this.loadBar?.stop();
    this.loadBar = null;
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }
}
