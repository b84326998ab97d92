// Perplexity, bits per token and next-token accuracy of a model on any token
// sequence: the text cut into N contiguous streams read T tokens at a time with
// the hidden state carried, so every token after the first is predicted from
// all the tokens before it in its stream.
import { WindowBatch } from '../data/datamodule.js';
import type { TokenArray } from '../data/tokenizer.js';
import { InputError } from '../errors.js';
import { describe, plural, refuseUnknownKeys, show } from '../validate.js';
import { checkModelArg, checkWorld } from './trainer.js';
import type { LanguageModel } from '../nn/lm.js';
import type { World } from '../mpi.js';

export interface EvalMetrics {
  /** Target tokens scored. */
  tokens: number;
  loss: number;
  perplexity: number;
  bitsPerToken: number;
  accuracy: number;
  /** Fraction of the scored tokens that are the unknown token (when its id is given): they flatter the perplexity. */
  unknownRate?: number;
}

export function evaluateTokens(
  model: LanguageModel,
  tokens: TokenArray | Int32Array,
  opts: { numSteps: number; batchSize: number; unk?: number; world?: World | null },
): EvalMetrics {
  // (before: a null model or tokens, or a world of {rank, size} alone, a TypeError from inside)
  checkModelArg(model, 'evaluateTokens(model, ...)');
  if (!(tokens instanceof Uint16Array || tokens instanceof Int32Array)) {
    throw new InputError(`evaluateTokens(model, tokens, ...): the tokens must be a Uint16Array or an Int32Array of token ids (a tokenizer's encode()), got ${describe(tokens)}`);
  }
  if (typeof opts !== 'object' || opts === null) throw new InputError('evaluateTokens needs options: { numSteps, batchSize }');
  // (before, a misspelt option was not read, and unk: '0' counted no unknown token)
  refuseUnknownKeys(opts, ['numSteps', 'batchSize', 'unk', 'world'], 'evaluateTokens');
  if (opts.unk !== undefined && !(Number.isSafeInteger(opts.unk) && opts.unk >= 0)) {
    throw new InputError(`unk must be the unknown token's id (a whole number of 0 or more), got ${describe(opts.unk)}`);
  }
  if (opts.world != null) checkWorld(opts.world);
  // Data-parallel: each rank scores its streams of every batch; the sums make the text's.
  const shard = opts.world ?? undefined;
  for (const key of ['numSteps', 'batchSize'] as const) {
    const v = opts[key];
    if (!Number.isSafeInteger(v) || v < 1) throw new InputError(`${key} must be a whole number of 1 or more, got ${show(v)}`);
  }
  if (tokens.length < 2) throw new InputError(`the text has ${plural(tokens.length, 'token')}; evaluation needs at least 2`);
  const N = Math.max(1, Math.min(opts.batchSize, Math.floor((tokens.length - 1) / opts.numSteps)));
  const L = Math.floor((tokens.length - 1) / N);
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  // Scores targets start+1 .. start+len of `streams` streams `stride` apart, T at a time, state carried.
  const run = (start: number, streams: number, stride: number, len: number) => {
    let batch = null as WindowBatch | null;
    for (let p = 0; p < len; p += opts.numSteps) {
      const T = Math.min(opts.numSteps, len - p);
      if (batch?.T !== T) batch = new WindowBatch(T, streams, tokens);
      for (let n = 0; n < streams; n++) batch.starts[n] = start + n * stride + p;
      batch.moved();
      const r = model.evaluate(batch, { carry: true, shard });
      lossSum += r.lossSum;
      correct += r.correct;
      count += r.count;
    }
  };
  model.resetState();
  run(0, N, L, L);
  // The tokens past N * L continue the last stream: score them from its state.
  const rest = tokens.length - 1 - N * L;
  // (On the last rank alone when sharded: its share ends with the last stream.)
  // A state that overflowed (a model whose outputs do, rnn-relu's unbounded h) scores the rest as it scored
  // the tokens before: overflowed (before, setCarriedState refused it: an error naming neither file nor corpus).
  const overflowed = () => model.carriedState()?.some((s) => s.some((x) => !Number.isFinite(x))) ?? false;
  if (rest > 0 && (!shard || shard.rank === shard.size - 1)) {
    if (overflowed()) {
      lossSum = Infinity;
      count += rest;
    } else {
      const state = model.carriedState()!.map((s) => s.slice(s.length - s.length / N));
      model.setCarriedState(state, 1);
      run(N * L, 1, 0, rest);
    }
  }
  // (inf - inf in the loss of overflowed outputs is NaN: it is their overflow, shown as inf)
  if (Number.isNaN(lossSum) && overflowed()) lossSum = Infinity;
  if (shard) {
    const sums = Float64Array.of(lossSum, correct, count);
    shard.sum(sums);
    [lossSum, correct, count] = [sums[0]!, sums[1]!, sums[2]!];
  }
  const loss = lossSum / count;
  const out: EvalMetrics = { tokens: count, loss, perplexity: Math.exp(loss), bitsPerToken: loss / Math.LN2, accuracy: correct / count };
  if (opts.unk !== undefined) {
    // Every token after the first is a target.
    let unknown = 0;
    for (let i = 1; i < tokens.length; i++) if (tokens[i] === opts.unk) unknown++;
    out.unknownRate = unknown / (tokens.length - 1);
  }
  return out;
}
