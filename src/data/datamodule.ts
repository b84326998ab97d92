// The book's DataModule for language models: windows of numSteps+1 tokens
// starting at every position; windows 0..numTrain-1 train, the next numVal
// validate. Batches are time-major: inputs and targets of shape (T, N).
import type { Rng } from '../rng.js';
import { InputError } from '../errors.js';

export interface Batch {
  /** Steps. */
  T: number;
  /** Windows in the batch. */
  N: number;
  /** (T, N) token ids, time-major. */
  inputs: Int32Array;
  /** (T, N) next-token ids, time-major. */
  targets: Int32Array;
}

export interface WindowOptions {
  numSteps: number;
  numTrain: number;
  numVal: number;
  batchSize: number;
}

export class WindowDataModule {
  readonly numWindows: number;
  private readonly order: Int32Array;
  private readonly buffers = new Map<number, Batch>();

  constructor(
    readonly tokens: Int32Array,
    readonly opts: WindowOptions,
  ) {
    const { numSteps, numTrain, numVal, batchSize } = opts;
    this.numWindows = Math.max(0, tokens.length - numSteps);
    if (tokens.length < numSteps + 1) {
      throw new InputError(`the corpus has ${tokens.length} tokens, fewer than num-steps + 1 = ${numSteps + 1}`);
    }
    if (numTrain + numVal > this.numWindows) {
      throw new InputError(
        `the corpus gives ${this.numWindows} windows of ${numSteps + 1} tokens, fewer than num-train + num-val = ${numTrain + numVal}`,
      );
    }
    if (batchSize > numTrain) {
      throw new InputError(`batch size ${batchSize} is larger than the ${numTrain} training windows`);
    }
    this.order = new Int32Array(numTrain);
  }

  get numTrainBatches(): number {
    return Math.ceil(this.opts.numTrain / this.opts.batchSize);
  }

  get numValBatches(): number {
    return Math.ceil(this.opts.numVal / this.opts.batchSize);
  }

  /**
   * Training batches in a random order that depends only on the rng's state
   * (a fresh permutation of 0..numTrain-1 each epoch); the last batch may be
   * smaller. The batch buffers are reused: use each batch before the next.
   * `from` skips that many batches of the order (to continue an epoch).
   */
  *trainBatches(rng: Rng, from = 0): Generator<Batch> {
    for (let i = 0; i < this.order.length; i++) this.order[i] = i;
    rng.shuffle(this.order);
    const { numTrain, batchSize } = this.opts;
    for (let s = from * batchSize; s < numTrain; s += batchSize) {
      yield this.fill(this.order, s, Math.min(batchSize, numTrain - s), 0);
    }
  }

  /** Validation batches in order. */
  *valBatches(): Generator<Batch> {
    const { numTrain, numVal, batchSize } = this.opts;
    for (let s = 0; s < numVal; s += batchSize) {
      yield this.fill(null, s, Math.min(batchSize, numVal - s), numTrain);
    }
  }

  private fill(order: Int32Array | null, start: number, N: number, base: number): Batch {
    const T = this.opts.numSteps;
    let b = this.buffers.get(N);
    if (!b) {
      b = { T, N, inputs: new Int32Array(T * N), targets: new Int32Array(T * N) };
      this.buffers.set(N, b);
    }
    const tok = this.tokens;
    for (let n = 0; n < N; n++) {
      const w = base + (order ? order[start + n]! : start + n);
      for (let t = 0; t < T; t++) {
        b.inputs[t * N + n] = tok[w + t]!;
        b.targets[t * N + n] = tok[w + t + 1]!;
      }
    }
    return b;
  }
}
