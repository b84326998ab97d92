// Training progress: a cli-progress bar per epoch on a terminal, else one
// plain line per epoch. With --json the lines go to stderr.
import cliProgress from 'cli-progress';
import type { EpochMetrics } from '../train/trainer.js';

export function epochLine(m: EpochMetrics, epochs: number): string {
  return `epoch ${m.epoch}/${epochs}  train ppl ${m.trainPpl.toFixed(3)}  val ppl ${m.valPpl.toFixed(3)}  `
    + `val bits ${(m.valLoss / Math.LN2).toFixed(3)}  val acc ${m.valAcc.toFixed(3)}  lr ${Number(m.lr.toPrecision(4))}  `
    + `grad norm ${m.gradNorm.toFixed(3)}  tokens/s ${Math.round(m.tokensPerSec)}  ${m.seconds.toFixed(2)}s`
    + `${m.skipped ? `  skipped ${m.skipped}` : ''}`;
}

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private loadBar: cliProgress.SingleBar | null = null;
  private epochStart = 0;
  private readonly tty: boolean;
  private readonly out: NodeJS.WriteStream;

  constructor(
    private readonly epochs: number,
    json: boolean,
  ) {
    this.out = json ? process.stderr : process.stdout;
    this.tty = Boolean(this.out.isTTY) && !process.env.CI;
  }

  /** Training starts (the corpus is read and the model built). */
  start(): void {}

  log(msg: string): void {
    this.out.write(msg + '\n');
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

  batch(epoch: number, done: number, total: number, loss: number, tokens: number): void {
    if (!this.tty) return;
    if (!this.bar) {
      this.epochStart = performance.now();
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.out,
          format: 'epoch {epoch}/{epochs} |{bar}| {value}/{total} batches  ppl {ppl}  {tps} tokens/s',
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { epoch, epochs: this.epochs, ppl: '-', tps: '-' });
    }
    const seconds = (performance.now() - this.epochStart) / 1000;
    this.bar.update(done, { ppl: Math.exp(loss).toFixed(3), tps: Math.round(tokens / seconds) });
  }

  epoch(m: EpochMetrics): void {
    this.stop();
    this.log(epochLine(m, this.epochs));
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
