// Trainer: the book's loop. Per batch: zero gradients, forward (mean loss),
// backward, clip the global gradient norm, optimizer step. Per epoch: train
// and validation perplexity.
import type { WindowDataModule } from '../data/datamodule.js';
import type { LanguageModel } from '../nn/lm.js';
import type { Rng } from '../rng.js';
import { scaleInPlace, sumSquares } from './ops.js';
import type { Optimizer } from './optim.js';

export interface EpochMetrics {
  epoch: number;
  /** Token-weighted mean of the epoch's training batch losses, and its exp. */
  trainLoss: number;
  trainPpl: number;
  /** Mean loss over every validation token, and its exp. */
  valLoss: number;
  valPpl: number;
  /** Next-token accuracy (argmax) on the validation tokens. */
  valAcc: number;
  /** Training tokens per second (forward + backward + update). */
  tokensPerSec: number;
  seconds: number;
}

export interface TrainerOptions {
  epochs: number;
  /** Global-norm clipping threshold; 0 or Infinity turns clipping off. */
  clip: number;
  onEpoch?: (m: EpochMetrics) => void;
  /** After each training batch: batches done and in all, its loss, training tokens so far this epoch. */
  onBatch?: (done: number, total: number, loss: number, tokens: number) => void;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Trainer {
  readonly history: EpochMetrics[] = [];

  constructor(readonly opts: TrainerOptions) {}

  /** Trains for opts.epochs epochs; the event loop runs between batches. */
  async fit(model: LanguageModel, data: WindowDataModule, optimizer: Optimizer, rng: Rng): Promise<EpochMetrics[]> {
    for (let e = this.history.length + 1; e <= this.opts.epochs; e++) {
      const m = await this.fitEpoch(model, data, optimizer, rng, e);
      this.history.push(m);
      this.opts.onEpoch?.(m);
    }
    return this.history;
  }

  async fitEpoch(model: LanguageModel, data: WindowDataModule, optimizer: Optimizer, rng: Rng, epoch: number): Promise<EpochMetrics> {
    const start = performance.now();
    let lossSum = 0;
    let tokens = 0;
    let done = 0;
    const total = data.numTrainBatches;
    for (const batch of data.trainBatches(rng)) {
      model.zeroGrad();
      const loss = model.forward(batch, { train: true, rng });
      if (!Number.isFinite(loss)) {
        throw new Error(`the training loss became ${loss} in epoch ${epoch}, batch ${done + 1}; try a lower --lr or a smaller --clip`);
      }
      model.backward();
      this.clipGradients(model);
      optimizer.step(model.params, model.grads);
      const n = batch.T * batch.N;
      lossSum += loss * n;
      tokens += n;
      done++;
      this.opts.onBatch?.(done, total, loss, tokens);
      await tick();
    }
    const trainSeconds = (performance.now() - start) / 1000;
    const val = this.validate(model, data);
    const trainLoss = lossSum / tokens;
    return {
      epoch,
      trainLoss,
      trainPpl: Math.exp(trainLoss),
      valLoss: val.loss,
      valPpl: Math.exp(val.loss),
      valAcc: val.accuracy,
      tokensPerSec: tokens / trainSeconds,
      seconds: (performance.now() - start) / 1000,
    };
  }

  /** Mean loss and accuracy over every validation token. */
  validate(model: LanguageModel, data: WindowDataModule): { loss: number; accuracy: number } {
    let lossSum = 0;
    let correct = 0;
    let count = 0;
    for (const batch of data.valBatches()) {
      const r = model.evaluate(batch);
      lossSum += r.lossSum;
      correct += r.correct;
      count += r.count;
    }
    return { loss: lossSum / count, accuracy: correct / count };
  }

  /** Rescales all gradients so their global L2 norm is at most opts.clip; returns the norm before. */
  clipGradients(model: LanguageModel): number {
    const norm = Math.sqrt(sumSquares(model.grads));
    const { clip } = this.opts;
    if (clip > 0 && Number.isFinite(clip) && norm > clip) scaleInPlace(model.grads, clip / norm);
    return norm;
  }
}
