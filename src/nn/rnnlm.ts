// RNNLM: one-hot tokens -> StackedRNN -> linear output layer, mean
// cross-entropy; the output layer and the loss run fused in native code.
import type { Batch } from '../data/datamodule.js';
import { native } from '../native.js';
import { Rng } from '../rng.js';
import { initParams, paramCount, paramTable, type ModelConfig } from './config.js';
import type { EvalResult, ForwardOptions, LanguageModel } from './lm.js';
import { Module } from './module.js';
import { StackedRNN, type LayerState } from './stacked-rnn.js';
import { Workspace } from './workspace.js';

export class RNNLM extends Module<Float32Array> implements LanguageModel {
  readonly rnn: StackedRNN;
  private readonly ws = new Workspace();
  private readonly W: Float32Array;
  private readonly b: Float32Array;
  private readonly dW: Float32Array;
  private readonly db: Float32Array;
  private dTop: Float32Array | null = null;

  /** A model with PyTorch's default initialisation drawn from `rng` (or seed 0). */
  constructor(
    readonly config: ModelConfig,
    rng: Rng = new Rng(0),
  ) {
    const table = paramTable(config);
    const n = paramCount(table);
    super(table, new Float32Array(n), new Float32Array(n));
    initParams(this.params, config, rng);
    const rnnTable = table.filter((p) => p.name.startsWith('rnn.'));
    const rnnSize = paramCount(rnnTable);
    this.rnn = new StackedRNN(config, rnnTable, this.params.subarray(0, rnnSize), this.grads.subarray(0, rnnSize));
    this.W = this.param('linear.weight');
    this.b = this.param('linear.bias');
    this.dW = this.grad('linear.weight');
    this.db = this.grad('linear.bias');
  }

  private get top(): number {
    return this.config.hidden[this.config.hidden.length - 1]!;
  }

  /**
   * Mean cross-entropy of the batch. In training mode the output layer's
   * gradient is computed in the same pass (fused) and backward() completes it.
   */
  forward(batch: Batch, opts: ForwardOptions): number {
    const { T, N, inputs, targets } = batch;
    const M = T * N;
    const V = this.config.vocabSize;
    const H = this.top;
    const Y = this.rnn.forward(inputs, T, N, { train: opts.train, rng: opts.rng });
    const logits = this.ws.get('logits', M * V);
    if (!opts.train) {
      this.dTop = null;
      return native().xentForward(logits, Y, this.W, this.b, targets, M, H, V).loss / M;
    }
    const dY = this.ws.get('dY', M * H);
    const loss = native().xentForwardBackward(dY, this.dW, this.db, logits, Y, this.W, this.b, targets, M, H, V, 1 / M);
    this.dTop = dY;
    return loss / M;
  }

  backward(): void {
    if (!this.dTop) throw new Error('backward() needs a training forward() first');
    this.rnn.backward(this.dTop);
    this.dTop = null;
  }

  evaluate(batch: Batch): EvalResult {
    const { T, N, inputs, targets } = batch;
    const M = T * N;
    const V = this.config.vocabSize;
    const Y = this.rnn.forward(inputs, T, N, { train: false });
    const r = native().xentForward(this.ws.get('logits', M * V), Y, this.W, this.b, targets, M, this.top, V);
    return { lossSum: r.loss, correct: r.correct, count: M };
  }

  /** One-token-at-a-time decoding with preallocated buffers (batch 1). */
  stepper(): Stepper {
    return new Stepper(this);
  }

  /** @internal used by Stepper */
  outputLayer(): { W: Float32Array; b: Float32Array } {
    return { W: this.W, b: this.b };
  }
}

/** Runs the model forward one token at a time, carrying the state of every layer. */
export class Stepper {
  private readonly state: LayerState[];
  private readonly token = new Int32Array(1);
  readonly logits: Float32Array;

  constructor(private readonly model: RNNLM) {
    const lstm = model.config.cell === 'lstm';
    this.state = model.config.hidden.map((H) => ({ h: new Float32Array(H), c: lstm ? new Float32Array(H) : null }));
    this.logits = new Float32Array(model.config.vocabSize);
  }

  reset(): void {
    for (const s of this.state) {
      s.h.fill(0);
      s.c?.fill(0);
    }
  }

  /** Feeds one token; returns the logits of the next (a view reused by the next call). */
  feed(tokenId: number): Float32Array {
    this.token[0] = tokenId;
    const { rnn, config } = this.model;
    const top = rnn.forward(this.token, 1, 1, { train: false, initial: this.state });
    rnn.finalState().forEach((f, l) => {
      this.state[l]!.h.set(f.h);
      if (f.c) this.state[l]!.c!.set(f.c);
    });
    const { W, b } = this.model.outputLayer();
    native().linearForward(this.logits, top, W, b, 1, config.hidden[config.hidden.length - 1]!, config.vocabSize);
    return this.logits;
  }
}
