// The Time Machine as the book builds it, checked against the facts listed
// beside the shared corpus, and the window DataModule.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WindowDataModule } from '../../src/data/datamodule.js';
import { Tokenizer, tokenizerFromJSON } from '../../src/data/tokenizer.js';
import { UNK, Vocab } from '../../src/data/vocab.js';
import { Rng } from '../../src/rng.js';
import { TIMEMACHINE } from '../helpers/paths.js';

const text = readFileSync(TIMEMACHINE, 'utf8');

describe('The Time Machine with the d2l tokenizer', () => {
  const tok = Tokenizer.fit('d2l', text);
  const ids = tok.encode(text);

  it('has 173,428 tokens and the 28-token sorted vocabulary', () => {
    expect(ids.length).toBe(173_428);
    expect(tok.vocab.size).toBe(28);
    expect(tok.vocab.tokens).toEqual([' ', UNK, ...'abcdefghijklmnopqrstuvwxyz']);
  });

  it('begins as the book prints it', () => {
    expect(tok.decode(ids.subarray(0, 60))).toBe('the time machine by h g wells i the time traveller for so it');
  });

  it('counts the most frequent tokens as the book does', () => {
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(tok.vocab.token(id), (counts.get(tok.vocab.token(id)) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 3);
    expect(top).toEqual([[' ', 32_775], ['e', 17_838], ['t', 13_515]]);
  });

  it('maps unknown characters to <unk> and round-trips through JSON', () => {
    const again = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    expect(again.encode('It has, 42!')).toEqual(tok.encode('it has '));
    const small = new Tokenizer('d2l', Vocab.build('ab'));
    expect(small.decode(small.encode('abc'))).toBe(`ab${UNK}`);
  });

  it('gives 173,396 windows of 33 tokens', () => {
    const dm = new WindowDataModule(ids, { numSteps: 32, numTrain: 10_000, numVal: 5_000, batchSize: 1024 });
    expect(dm.numWindows).toBe(173_396);
    expect(dm.numTrainBatches).toBe(10);
    expect(dm.numValBatches).toBe(5);
  });
});

describe('WindowDataModule', () => {
  const tokens = Int32Array.from({ length: 50 }, (_, i) => i);
  const dm = new WindowDataModule(tokens, { numSteps: 4, numTrain: 10, numVal: 7, batchSize: 4 });

  it('makes time-major batches of shifted windows, the last one smaller', () => {
    // Batch buffers are reused: copy each one while iterating.
    const batches = Array.from(dm.trainBatches(new Rng(1)), (b) => ({ N: b.N, inputs: [...b.inputs], targets: [...b.targets] }));
    expect(batches.map((b) => b.N)).toEqual([4, 4, 2]);
    const starts: number[] = [];
    for (const b of batches) {
      for (let n = 0; n < b.N; n++) {
        const w = b.inputs[n]!;
        starts.push(w);
        for (let t = 0; t < 4; t++) {
          expect(b.inputs[t * b.N + n]).toBe(w + t);
          expect(b.targets[t * b.N + n]).toBe(w + t + 1);
        }
      }
    }
    // Every training window 0..9 exactly once, shuffled.
    expect([...starts].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(starts).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('shuffles reproducibly from the seed and differently each epoch', () => {
    const order = (rng: Rng) => Array.from(dm.trainBatches(rng), (b) => [...b.inputs.subarray(0, b.N)]).flat();
    const a = new Rng(5);
    const b = new Rng(5);
    const e1 = order(a);
    expect(order(b)).toEqual(e1);
    expect(order(a)).not.toEqual(e1);
  });

  it('validates on the next windows in order', () => {
    const starts = Array.from(dm.valBatches(), (b) => [...b.inputs.subarray(0, b.N)]).flat();
    expect(starts).toEqual([10, 11, 12, 13, 14, 15, 16]);
  });

  it('refuses data that cannot make the windows', () => {
    expect(() => new WindowDataModule(Int32Array.from([1, 2, 3]), { numSteps: 4, numTrain: 1, numVal: 1, batchSize: 1 }))
      .toThrow('the corpus has 3 tokens, fewer than numSteps + 1 = 5');
    expect(() => new WindowDataModule(tokens, { numSteps: 4, numTrain: 40, numVal: 7, batchSize: 4 }))
      .toThrow('the corpus gives 46 windows of 5 tokens, fewer than numTrain + numVal = 47');
    expect(() => new WindowDataModule(tokens, { numSteps: 4, numTrain: 10, numVal: 7, batchSize: 11 }))
      .toThrow('batch size 11 is larger than the 10 training windows');
  });
});

describe('Vocab', () => {
  it('sorts by code point, keeps <unk>, and drops rare tokens', () => {
    const v = Vocab.build(['b', 'a', 'b', 'c', 'c', 'c'], 2);
    expect(v.tokens).toEqual([UNK, 'b', 'c']);
    expect(v.id('a')).toBe(v.unk);
  });

  it('refuses duplicate tokens and a missing <unk>', () => {
    expect(() => new Vocab(['a', 'a', UNK])).toThrow('vocabulary lists "a" twice');
    // A control character shows escaped (before, a raw tab or newline in the message); a hole is named.
    expect(() => new Vocab(['\t', UNK, '\t'])).toThrow('vocabulary lists "\\t" twice');
    const sparse: string[] = [UNK];
    sparse[3] = 'x';
    expect(() => new Vocab(sparse)).toThrow('vocabulary token 1 is nothing (undefined), not a string');
    expect(() => new Vocab(['a'])).toThrow('vocabulary has no "<unk>" token');
    expect(() => tokenizerFromJSON({ kind: 'bpe', tokens: [UNK] })).toThrow('unknown tokenizer kind "bpe" (expected one of d2l, char, word)');
    expect(() => tokenizerFromJSON({ kind: 'd2l' })).toThrow('tokenizer must be an object');
    expect(() => Vocab.build('ab').token(7)).toThrow('token id 7 is outside the vocabulary of 3');
  });
});

describe('Rng', () => {
  it('repeats from a seed and from a saved state', () => {
    const a = new Rng(3);
    a.nextU32();
    const saved = a.state();
    const next = [a.nextU32(), a.uniform(), a.below(10)];
    const b = Rng.fromState(saved);
    expect([b.nextU32(), b.uniform(), b.below(10)]).toEqual(next);
    expect(new Rng(3).nextU32()).not.toBe(new Rng(4).nextU32());
  });

  it('draws uniform values in [0, 1) with the right mean', () => {
    const r = new Rng(9);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
    }
    expect(Math.abs(sum / 20000 - 0.5)).toBeLessThan(0.01);
  });
});
