// Sampling statistics: temperature 0 is greedy, top-k stays among the k best,
// top-p among the nucleus, a fixed seed repeats, and the frequencies follow
// softmax(logits / T).
import { describe, expect, it } from 'vitest';
import { argmax, Sampler } from '../../src/generate.js';
import { Rng } from '../../src/rng.js';

const logits = Float32Array.from([1.0, 3.0, 0.5, 2.5, -1.0, 2.9, 0.0, 1.5]);
const softmax = (x: ArrayLike<number>, t: number) => {
  const e = Array.from(x, (v) => Math.exp(v / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

function counts(s: Sampler, n: number): number[] {
  const c = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) c[s.pick(logits)]!++;
  return c;
}

describe('Sampler', () => {
  it('with temperature 0 is greedy', () => {
    expect(new Sampler(8, { temperature: 0 }).pick(logits)).toBe(argmax(logits));
    expect(argmax(logits)).toBe(1);
  });

  it('follows softmax(logits / T)', () => {
    for (const t of [0.5, 1, 2]) {
      const n = 40000;
      const c = counts(new Sampler(8, { temperature: t, rng: new Rng(3) }), n);
      const p = softmax(logits, t);
      c.forEach((k, i) => {
        const sd = Math.sqrt(n * p[i]! * (1 - p[i]!)) + 1;
        expect(Math.abs(k - n * p[i]!), `T=${t} token ${i}`).toBeLessThan(5 * sd);
      });
    }
  });

  it('a temperature so small that the logits over it overflow is greedy, with top-k and top-p too', () => {
    // Before, Infinity - Infinity made every probability NaN, and top-k/top-p returned tokens by index.
    for (const opts of [{ topK: 3 }, { topP: 0.5 }, {}]) {
      for (const t of [1e-310, 5e-324]) {
        expect(new Sampler(8, { temperature: t, rng: new Rng(1), ...opts }).pick(logits), `T=${t} ${JSON.stringify(opts)}`).toBe(argmax(logits));
      }
    }
  });

  it('top-k never leaves the k best', () => {
    const c = counts(new Sampler(8, { temperature: 5, topK: 3, rng: new Rng(4) }), 20000);
    const best = [1, 5, 3];
    c.forEach((k, i) => (best.includes(i) ? expect(k).toBeGreaterThan(0) : expect(k).toBe(0)));
  });

  it('top-p keeps the smallest set whose probability reaches p', () => {
    const p = softmax(logits, 1); // sorted: 1 (.33), 5 (.30), 3 (.20), ...
    expect(p[1]! + p[5]!).toBeLessThan(0.7);
    const c = counts(new Sampler(8, { temperature: 1, topP: 0.7, rng: new Rng(5) }), 20000);
    c.forEach((k, i) => ([1, 5, 3].includes(i) ? expect(k).toBeGreaterThan(0) : expect(k).toBe(0)));
    const one = counts(new Sampler(8, { temperature: 1, topP: 0.01, rng: new Rng(5) }), 1000);
    expect(one[1]).toBe(1000);
  });

  it('top-k and top-p together: the nucleus of what top-k kept, renormalised over it', () => {
    // Probabilities .4, .3, .2, .1: top-k 2 keeps .4 and .3, which are 4/7 and 3/7 of what it
    // kept, so top-p 0.5 keeps the first alone (before, p was measured against the whole
    // distribution and both were kept).
    const four = [Math.log(0.4), Math.log(0.3), Math.log(0.2), Math.log(0.1)];
    const c = new Array(4).fill(0);
    const s = new Sampler(4, { temperature: 1, topK: 2, topP: 0.5, rng: new Rng(6) });
    for (let i = 0; i < 2000; i++) c[s.pick(four)]++;
    expect(c).toEqual([2000, 0, 0, 0]);
    // top-p 0.6 needs both of them (4/7 < 0.6), never the third
    const d = new Array(4).fill(0);
    const s2 = new Sampler(4, { temperature: 1, topK: 2, topP: 0.6, rng: new Rng(6) });
    for (let i = 0; i < 2000; i++) d[s2.pick(four)]++;
    expect(d[0]).toBeGreaterThan(0);
    expect(d[1]).toBeGreaterThan(0);
    expect(d[2] + d[3]).toBe(0);
  });

  it('refuses a seed that would change nothing: with greedy decoding, or beside an rng (before, ignored without a word)', () => {
    expect(() => new Sampler(8, { seed: 7 })).toThrow('seed needs sampling: greedy decoding (temperature 0) draws nothing; give temperature above 0');
    expect(() => new Sampler(8, { temperature: 1, seed: 7, rng: new Rng(1) })).toThrow('give seed or rng, not both: rng draws the samples, and seed would be ignored');
    expect(new Sampler(8, { temperature: 1, seed: 7 }).pick(logits)).toBe(new Sampler(8, { temperature: 1, rng: new Rng(7) }).pick(logits));
  });

  it('filters that keep every token change nothing: the same draws as no filter for a seed', () => {
    // Before, any filter drew over the tokens sorted by probability: the same
    // distribution, other text for the same seed (top-p 1, top-k of the vocabulary).
    const draws = (o: { topK?: number; topP?: number }) => {
      const s = new Sampler(8, { temperature: 1, seed: 11, ...o });
      return Array.from({ length: 500 }, () => s.pick(logits));
    };
    const plain = draws({});
    for (const o of [{ topP: 1 }, { topK: 8 }, { topK: 1000 }, { topK: 8, topP: 1 }]) expect(draws(o), JSON.stringify(o)).toEqual(plain);
    // a filter that removes something still changes them
    expect(draws({ topK: 7 })).not.toEqual(plain);
  });

  it('repeats with the same seed', () => {
    const a = Array.from({ length: 50 }, ((s) => () => s.pick(logits))(new Sampler(8, { temperature: 1, rng: new Rng(9) })));
    const b = Array.from({ length: 50 }, ((s) => () => s.pick(logits))(new Sampler(8, { temperature: 1, rng: new Rng(9) })));
    expect(a).toEqual(b);
    expect(new Set(a).size).toBeGreaterThan(2);
  });

  it('refuses a bad temperature', () => {
    expect(() => new Sampler(8, { temperature: -1 })).toThrow('temperature must be a number >= 0, got -1');
    // Without a generator the samples are drawn from `seed` (default 42), as deeprnn predict draws them.
    const picks = (s: Sampler) => Array.from({ length: 50 }, () => s.pick(logits));
    expect(picks(new Sampler(8, { temperature: 1 }))).toEqual(picks(new Sampler(8, { temperature: 1, rng: new Rng(42) })));
    expect(picks(new Sampler(8, { temperature: 1, seed: 3 }))).toEqual(picks(new Sampler(8, { temperature: 1, rng: new Rng(3) })));
    expect(picks(new Sampler(8, { temperature: 1, seed: 3 }))).not.toEqual(picks(new Sampler(8, { temperature: 1 })));
  });
});

describe('Sampler and generate refuse what they would not use (before: dropped, or read as a number)', () => {
  it('a misspelt option, a string for a number, a vocabulary that is no size, logits of another length', async () => {
    const { generate } = await import('../../src/generate.js');
    const { Tokenizer } = await import('../../src/data/tokenizer.js');
    const { RNNLM } = await import('../../src/nn/rnnlm.js');
    expect(() => new Sampler(3, { temperature: 1, topk: 2 } as never)).toThrow('Sampler: unknown option topk (did you mean topK?)');
    for (const [key, v] of [['temperature', '1'], ['topK', '3'], ['topP', '0.5'], ['seed', '5']] as const) {
      expect(() => new Sampler(3, { temperature: 1, [key]: v } as never), key).toThrow(`${key} must be a number, got "${v}"`);
    }
    for (const v of [-1, 0, NaN, 1.5, '3']) {
      expect(() => new Sampler(v as never, { temperature: 1 }), String(v)).toThrow(/^Sampler: vocabSize must be an integer from 1 to 1073741824, got /);
    }
    expect(() => new Sampler(3, null as never)).toThrow('Sampler: the options must be an object, got null');
    const s = new Sampler(3, { temperature: 1, seed: 1 });
    expect(() => s.pick(new Float32Array(10))).toThrow('pick: the logits must be 3 numbers (one per token of the vocabulary), got an instance of Float32Array of length 10');
    expect(() => s.pick([1, 2])).toThrow(/got an array of 2$/);
    expect(s.pick([0, 0, 50])).toBe(2);
    // generate: the sampling options as strictly as numPreds (before, '1' and '3' were taken)
    const tok = Tokenizer.fit('char', 'abc abc');
    const model = new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [4], dropout: 0 }, new Rng(1));
    expect(() => generate(model, tok, 'a', { numPreds: 3, temperature: '1' } as never)).toThrow('temperature must be a number, got "1"');
    expect(() => generate(model, tok, 'a', { numPreds: 3, temperature: 1, topK: '3' } as never)).toThrow('topK must be a number, got "3"');
    const text = generate(model, tok, 'a', { numPreds: 3, temperature: 1, topK: 3, seed: 2 });
    expect(text).toMatch(/^a/);
    expect(generate(model, tok, 'a', { numPreds: 3, temperature: 1, topK: 3, seed: 2 })).toBe(text);
  });

  it('a NaN logit, and argmax of nothing (before: the NaN picked by top-k or never, by where it stood; argmax([]) gave 0)', () => {
    for (const opts of [{}, { temperature: 1, seed: 7 }, { temperature: 1, topK: 2, seed: 7 }, { temperature: 1, topP: 0.5, seed: 7 }]) {
      const s = new Sampler(3, opts);
      expect(() => s.pick(Float32Array.of(NaN, 1, 2)), JSON.stringify(opts))
        .toThrow('pick: logit 0 is NaN, not a number (give -Infinity for a token never to pick)');
      expect(() => s.pick([1, 2, NaN])).toThrow('pick: logit 2 is NaN');
      expect(() => s.pick([1, '2', 3] as never)).toThrow('pick: logit 1 is "2", not a number');
      // -Infinity: never picked (and not every token); +Infinity: always (the first of several)
      for (let i = 0; i < 50; i++) expect(s.pick([-Infinity, 0, -Infinity])).toBe(1);
      expect(s.pick([0, Infinity, 0])).toBe(1);
      expect(s.pick([0, Infinity, Infinity])).toBe(1);
      expect(() => s.pick([-Infinity, -Infinity, -Infinity])).toThrow('pick: every logit is -Infinity, so no token may be picked');
    }
    expect(() => argmax([])).toThrow('argmax: needs a list of at least one number, got an array of 0');
    expect(() => argmax(new Float32Array(0))).toThrow('argmax: needs a list of at least one number');
    expect(() => argmax(null as never)).toThrow('argmax: needs a list of at least one number, got null');
    for (const x of [[NaN, 1, 2], [1, NaN, 2], [1, 2, NaN]]) expect(() => argmax(x), String(x)).toThrow(`argmax: value ${x.findIndex(Number.isNaN)} is NaN`);
    expect(argmax([-Infinity, -Infinity])).toBe(0);
    expect(argmax(Float32Array.of(1, 3, 3, 2))).toBe(1);  // the first of equals
  });
});

describe('generate', () => {
  it('refuses, by name, text past the longest string (before: "Invalid string length"), and streams it with collect false', async () => {
    const { generate } = await import('../../src/generate.js');
    const { Tokenizer } = await import('../../src/data/tokenizer.js');
    const { RNNLM } = await import('../../src/nn/rnnlm.js');
    // Two words of 2^20 letters (and a space and <unk>): 512 of them pass 2^29 - 24 characters.
    const tok = Tokenizer.fit('word', `${'a'.repeat(2 ** 20)} ${'b'.repeat(2 ** 20)}`);
    const model = new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [4], dropout: 0 }, new Rng(1));
    expect(() => generate(model, tok, '', { numPreds: 2000, temperature: 1, seed: 1 })).toThrow(
      /^the generated text passed the longest string JavaScript holds \(536,870,888 characters\) after [\d,]+ of 2,000 tokens: ask for fewer tokens, or let it stream/);
    let chars = 0;
    expect(generate(model, tok, '', { numPreds: 2000, temperature: 1, seed: 1, collect: false, onText: (s) => { chars += s.length; } })).toBe('');
    expect(chars).toBeGreaterThan(2 ** 29);
  });
});
