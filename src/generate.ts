// Greedy decoding as the book's predict: warm up on the prefix, then append
// the argmax token num_preds times.
import type { Tokenizer } from './data/tokenizer.js';
import type { RNNLM } from './nn/rnnlm.js';

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** The prefix (as the tokenizer normalises it) followed by numPreds greedily predicted tokens. */
export function predict(model: RNNLM, tokenizer: Tokenizer, prefix: string, numPreds: number): string {
  const ids = Array.from(tokenizer.encode(prefix));
  if (ids.length === 0) throw new Error('the prefix is empty after normalisation; give at least one token');
  const stepper = model.stepper();
  const outputs = [ids[0]!];
  for (let i = 0; i < ids.length + numPreds - 1; i++) {
    const logits = stepper.feed(outputs[outputs.length - 1]!);
    outputs.push(i < ids.length - 1 ? ids[i + 1]! : argmax(logits));
  }
  return tokenizer.decode(outputs);
}
