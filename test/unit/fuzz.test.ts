// Mutated checkpoints (bit flips, truncation, extension, spliced and rewritten
// headers) must load cleanly or fail with an InputError: never another
// exception, a crash, a hang or a huge allocation. DEEPRNN_FUZZ_CASES sets the
// count (`npm run fuzz` runs many more).
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { InputError } from '../../src/errors.js';
import { predict } from '../../src/generate.js';
import { decodeCheckpoint, FORMAT_VERSION, saveCheckpoint } from '../../src/io/checkpoint.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';
import { initialState } from '../../src/train/trainer.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { tmpDir } from '../helpers/tmp.js';

const CASES = Number(process.env.DEEPRNN_FUZZ_CASES ?? 10000);

function validCheckpoint(): Buffer {
  const tokenizer = Tokenizer.fit('d2l', 'the quick brown fox');
  const cfg = { cell: 'gru' as const, vocabSize: tokenizer.vocab.size, hidden: [5, 4], dropout: 0 };
  const model = new RNNLM(cfg, new Rng(1));
  const file = path.join(tmpDir(), 'seed.safetensors');
  saveCheckpoint(file, model, {
    version: FORMAT_VERSION, config: cfg, tokenizer: tokenizer.toJSON(),
    training: {
      corpus: ['x'], corpusSha1: 'y', epochs: 2, batchSize: 4, numSteps: 3, numTrain: 8, numVal: 4, lr: 1, clip: 1, seed: 1,
      impl: 'native', skipNonFinite: false, batching: 'random', valFrac: null,
    },
    optimizer: { kind: 'sgd', lr: 1, steps: 0 }, state: initialState(new Rng(2)), history: [],
  });
  return readFileSync(file);
}

const WEIRD: unknown[] = [null, true, -1, 0, 1.5, 1e300, -1e300, 2 ** 53, '', 'x', [], {}, [1, 2, 3], [-1], [1e12, 1e12], 'F64', 'F32'];

/** Rewrites one random field somewhere in the JSON tree. */
function mutateJson(v: unknown, rng: Rng, depth = 0): unknown {
  if (Array.isArray(v)) {
    if (v.length === 0 || rng.below(4) === 0) return WEIRD[rng.below(WEIRD.length)];
    const copy = [...v];
    const i = rng.below(copy.length);
    copy[i] = mutateJson(copy[i], rng, depth + 1);
    return copy;
  }
  if (v && typeof v === 'object') {
    const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    const keys = Object.keys(copy);
    if (keys.length === 0) return WEIRD[rng.below(WEIRD.length)];
    const k = keys[rng.below(keys.length)]!;
    const r = rng.below(6);
    if (r === 0) delete copy[k];
    else if (r === 1) copy[`extra${rng.below(100)}`] = WEIRD[rng.below(WEIRD.length)];
    else copy[k] = mutateJson(copy[k], rng, depth + 1);
    return copy;
  }
  if (typeof v === 'string' && v.startsWith('{') && depth < 3 && rng.below(2) === 0) {
    try {
      return JSON.stringify(mutateJson(JSON.parse(v), rng, depth + 1));
    } catch {
      return v;
    }
  }
  return WEIRD[rng.below(WEIRD.length)];
}

function withHeader(buf: Buffer, header: unknown, declared?: bigint): Buffer {
  const n = Number(buf.readBigUInt64LE(0));
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declared ?? BigInt(json.length));
  return Buffer.concat([len, json, buf.subarray(8 + n)]);
}

function mutate(seed: Buffer, rng: Rng): { kind: string; buf: Buffer } {
  const headerLen = Number(seed.readBigUInt64LE(0));
  const header = JSON.parse(seed.subarray(8, 8 + headerLen).toString()) as unknown;
  switch (rng.below(6)) {
    case 0: {
      const b = Buffer.from(seed);
      const flips = 1 + rng.below(8);
      for (let i = 0; i < flips; i++) {
        const at = rng.below(4) === 0 ? rng.below(b.length) : rng.below(8 + headerLen);
        b[at]! ^= 1 << rng.below(8);
      }
      return { kind: 'flip', buf: b };
    }
    case 1:
      return { kind: 'truncate', buf: seed.subarray(0, rng.below(seed.length)) };
    case 2: {
      const extra = Buffer.alloc(1 + rng.below(64));
      for (let i = 0; i < extra.length; i++) extra[i] = rng.below(256);
      return { kind: 'extend', buf: Buffer.concat([seed, extra]) };
    }
    case 3:
      return { kind: 'header', buf: withHeader(seed, mutateJson(header, rng)) };
    case 4: {
      const declared = [0n, 1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(headerLen + 1 + rng.below(1000)), BigInt(rng.below(headerLen))][rng.below(6)]!;
      return { kind: 'length', buf: withHeader(seed, header, declared) };
    }
    default: {
      // Point a tensor's offsets or shape somewhere else.
      const h = structuredClone(header) as Record<string, { data_offsets?: number[]; shape?: number[] }>;
      const names = Object.keys(h).filter((k) => k !== '__metadata__');
      const t = h[names[rng.below(names.length)]!]!;
      if (rng.below(2)) t.data_offsets = [rng.below(5000), rng.below(5000)];
      else t.shape = [rng.below(100), rng.below(100)];
      return { kind: 'tensor', buf: withHeader(seed, h) };
    }
  }
}

describe('checkpoint fuzzing', () => {
  it(`${CASES} mutated checkpoints load or fail cleanly`, () => {
    const seed = validCheckpoint();
    expect(decodeCheckpoint(seed, 'seed').model.params.length).toBeGreaterThan(0);
    const rng = new Rng(Number(process.env.DEEPRNN_FUZZ_SEED ?? 1));
    const counts: Record<string, { ok: number; refused: number }> = {};
    for (let i = 0; i < CASES; i++) {
      const { kind, buf } = mutate(seed, rng);
      const c = (counts[kind] ??= { ok: 0, refused: 0 });
      try {
        const ck = decodeCheckpoint(buf, `case ${i}`);
        // A checkpoint that loads must be usable.
        expect(ck.model.params.every(Number.isFinite)).toBe(true);
        predict(ck.model, ck.tokenizer, 'the', 3);
        c.ok++;
      } catch (e) {
        if (!(e instanceof InputError)) throw new Error(`case ${i} (${kind}) threw ${(e as Error).name}: ${(e as Error).message}`);
        expect((e as Error).message).toMatch(/^(checkpoint case \d+: |case \d+ is not a valid safetensors file: )/);
        c.refused++;
      }
    }
    console.log(`fuzzed ${CASES} checkpoints: ${JSON.stringify(counts)}`);
    expect(Object.values(counts).reduce((a, c) => a + c.refused, 0)).toBeGreaterThan(CASES / 3);
  });
});
