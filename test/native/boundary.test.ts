// Every exported native function, called with each argument replaced by a
// wrong type, a wrong length, a detached buffer or an out-of-range number,
// throws a JavaScript Error (and the process survives to check it).
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { native } from '../../src/native.js';
import { tmpDir } from '../helpers/tmp.js';

const nat = native() as unknown as Record<string, (...a: unknown[]) => unknown>;
const dir = tmpDir();
const f = (n: number) => new Float32Array(n);
const tok = (n: number, v = 0) => new Int32Array(n).fill(v);

type Kind = 'f32' | 'f32any' | 'i32' | 'i32out' | 'stream' | 'dim' | 'count' | 'num' | 'str' | 'optstr' | 'bool' | 'nullable' | 'path' | 'buffer' | 'other';
interface Call {
  fn: string;
  args: () => unknown[];
  kinds: Kind[];
  /** The function takes one options object with these keys, the values of args() in order. */
  names?: string[];
}

/** What the call passes: args() as they are, or as one options object. */
function build(call: Call, args: unknown[]): unknown[] {
  return call.names ? [Object.fromEntries(call.names.map((n, i) => [n, args[i]]))] : args;
}

// T=2, N=3, H=4, I=5, V=6, M=T*N=6
const LM_TRAIN = ['cell', 'L', 'hidden', 'V', 'params', 'grads', 'offsets', 'inputs', 'targets', 'T', 'N', 'rows', 'masks', 'state',
  'scale', 'keep', 'precision', 'tokens', 'starts', 'gradSquares'];
const LM_EVAL = ['cell', 'L', 'hidden', 'V', 'params', 'offsets', 'inputs', 'targets', 'T', 'N', 'rows', 'state', 'precision', 'tokens', 'starts'];

const CALLS: Call[] = [
  { fn: 'setThreads', args: () => [1], kinds: ['dim'] },
  { fn: 'setSimd', args: () => ['scalar'], kinds: ['str'] },
  { fn: 'setBf16', args: () => [''], kinds: ['str'] },
  { fn: 'bf16Path', args: () => [], kinds: [] },
  { fn: 'setTeamSize', args: () => [0], kinds: ['count'] },
  { fn: 'cells', args: () => [], kinds: [] },
  { fn: 'tuneGemm', args: () => [], kinds: [] },
  { fn: 'savedSize', args: () => ['lstm', 2, 3, 4], kinds: ['str', 'dim', 'dim', 'dim'] },
  ...(['rnn', 'gru', 'lstm'] as const).map((cell): Call => {
    const G = cell === 'gru' ? 3 : cell === 'lstm' ? 4 : 1;
    const S = cell === 'gru' ? 24 * 4 : cell === 'lstm' ? 24 * 6 : 0;
    const c = cell === 'lstm';
    return {
      fn: 'cellForward',
      names: ['cell', 'y', 'hT', 'cT', 'saved', 'gx', 'h0', 'c0', 'whh', 'bhh', 'T', 'N', 'H'],
      args: () => [cell, f(24), f(12), c ? f(12) : null, f(S), f(24 * G), f(12), c ? f(12) : null, f(16 * G), f(4 * G), 2, 3, 4],
      kinds: ['str', 'f32', 'f32', c ? 'f32' : 'other', 'f32', 'f32', 'f32', c ? 'f32' : 'other', 'f32', 'f32', 'dim', 'dim', 'dim'],
    };
  }),
  {
    fn: 'cellBackward',
    names: ['cell', 'dgx', 'dh0', 'dc0', 'dwhh', 'dbhh', 'dy', 'dhT', 'dcT', 'saved', 'y', 'h0', 'c0', 'whh', 'T', 'N', 'H'],
    args: () => ['lstm', f(96), f(12), f(12), f(64), f(16), f(24), f(12), f(12), f(144), f(24), f(12), f(12), f(64), 2, 3, 4],
    kinds: ['str', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'nullable', 'nullable', 'f32', 'f32', 'f32', 'f32', 'f32', 'dim', 'dim', 'dim'],
  },
  { fn: 'linearForward', args: () => [f(24), f(30), f(20), f(4), 6, 5, 4], kinds: ['f32', 'f32', 'f32', 'f32', 'dim', 'dim', 'dim'] },
  { fn: 'linearBackward', args: () => [f(30), f(20), f(4), f(24), f(30), f(20), 6, 5, 4], kinds: ['nullable', 'f32', 'f32', 'f32', 'f32', 'f32', 'dim', 'dim', 'dim'] },
  { fn: 'embeddingForward', args: () => [f(24), tok(6, 5), f(24), f(4), 6, 6, 4], kinds: ['f32', 'i32', 'f32', 'f32', 'dim', 'dim', 'dim'] },
  { fn: 'embeddingBackward', args: () => [f(24), f(4), f(24), tok(6, 1), 6, 6, 4], kinds: ['f32', 'f32', 'f32', 'i32', 'dim', 'dim', 'dim'] },
  { fn: 'xentForward', args: () => [f(36), f(24), f(24), f(6), tok(6, 2), 6, 4, 6], kinds: ['f32', 'f32', 'f32', 'f32', 'i32', 'dim', 'dim', 'dim'] },
  {
    fn: 'xentForwardBackward',
    args: () => [f(24), f(24), f(6), f(36), f(24), f(24), f(6), tok(6, 3), 6, 4, 6, 0.5],
    kinds: ['f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'f32', 'i32', 'dim', 'dim', 'dim', 'num'],
  },
  { fn: 'sumSquares', args: () => [f(7)], kinds: ['f32any'] },
  { fn: 'scale', args: () => [f(7), 2], kinds: ['f32any', 'num'] },
  { fn: 'fill', args: () => [f(7), 2], kinds: ['f32any', 'num'] },
  { fn: 'copy', args: () => [f(7), f(7)], kinds: ['f32any', 'f32'] },
  { fn: 'sgdStep', args: () => [f(7), f(7), 0.1], kinds: ['f32any', 'f32', 'num'] },
  { fn: 'sgdStepChecked', names: ['params', 'grads', 'backup', 'lr', 'gradScale'], args: () => [f(7), f(7), f(7), 0.1, 0.5],
    kinds: ['f32any', 'f32', 'f32', 'num', 'num'] },
  { fn: 'clipValue', args: () => [f(7), 0.5], kinds: ['f32any', 'num'] },
  {
    fn: 'sgdDecayStep',
    names: ['params', 'grads', 'lr', 'weightDecay'],
    args: () => [f(7), f(7), 0.1, 0.01],
    kinds: ['f32any', 'f32', 'num', 'num'],
  },
  {
    fn: 'sgdMomentumStep',
    names: ['params', 'buf', 'grads', 'lr', 'momentum', 'dampening', 'nesterov', 'weightDecay', 'first'],
    args: () => [f(7), f(7), f(7), 0.1, 0.9, 0, true, 0.01, false],
    kinds: ['f32any', 'f32', 'f32', 'num', 'num', 'num', 'bool', 'num', 'bool'],
  },
  {
    fn: 'adamStep',
    names: ['params', 'm', 'v', 'grads', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'step', 'decoupled'],
    args: () => [f(7), f(7), f(7), f(7), 1e-3, 0.9, 0.999, 1e-8, 0, 1, false],
    kinds: ['f32any', 'f32', 'f32', 'f32', 'num', 'num', 'num', 'num', 'num', 'dim', 'bool'],
  },
  {
    fn: 'rmspropStep',
    names: ['params', 'squareAvg', 'buf', 'grads', 'lr', 'alpha', 'eps', 'weightDecay', 'momentum'],
    args: () => [f(7), f(7), f(7), f(7), 1e-2, 0.99, 1e-8, 0, 0],
    kinds: ['f32any', 'f32', 'f32', 'f32', 'num', 'num', 'num', 'num', 'num'],
  },
  {
    // gru, hidden [4, 4], V=6, T=2, N=3: 294 parameters
    fn: 'lmTrainChunks',
    names: LM_TRAIN,
    args: () => ['gru', 2, Int32Array.from([4, 4]), 6, f(294), f(294), Int32Array.from([0, 72, 120, 132, 144, 192, 240, 252, 264, 288]),
      tok(6, 5), tok(6, 1), 2, 3, 2, f(24).fill(1), f(24), 0.5, false, 'bf16', undefined, undefined, new Float64Array(1)],
    // keep is optional (absent: false); its wrong values are in test/native/mpi.test.ts; gradSquares' in test/native/chunks.test.ts
    kinds: ['str', 'dim', 'i32', 'dim', 'f32any', 'f32', 'i32', 'i32', 'i32', 'dim', 'dim', 'dim', 'nullable', 'nullable', 'num', 'other', 'optstr', 'other', 'other', 'other'],
  },
  {
    // The same with the batch as windows of a token stream: 3 windows of 3 tokens in 8
    fn: 'lmTrainChunks',
    names: LM_TRAIN,
    args: () => ['gru', 2, Int32Array.from([4, 4]), 6, f(294), f(294), Int32Array.from([0, 72, 120, 132, 144, 192, 240, 252, 264, 288]),
      undefined, undefined, 2, 3, 2, f(24).fill(1), f(24), 0.5, false, 'bf16', Uint16Array.from([0, 1, 2, 3, 4, 5, 0, 1]), Int32Array.from([0, 5, 2]), undefined],
    kinds: ['str', 'dim', 'i32', 'dim', 'f32any', 'f32', 'i32', 'other', 'other', 'dim', 'dim', 'dim', 'nullable', 'nullable', 'num', 'other', 'optstr', 'stream', 'i32', 'other'],
  },
  {
    fn: 'lmEvalChunks',
    names: LM_EVAL,
    args: () => ['gru', 2, Int32Array.from([4, 4]), 6, f(294), Int32Array.from([0, 72, 120, 132, 144, 192, 240, 252, 264, 288]),
      tok(6, 5), tok(6, 1), 2, 3, 2, f(24), 'bf16', undefined, undefined],
    kinds: ['str', 'dim', 'i32', 'dim', 'f32any', 'i32', 'i32', 'i32', 'dim', 'dim', 'dim', 'nullable', 'optstr', 'other', 'other'],
  },
  {
    fn: 'lmEvalChunks',
    names: LM_EVAL,
    args: () => ['gru', 2, Int32Array.from([4, 4]), 6, f(294), Int32Array.from([0, 72, 120, 132, 144, 192, 240, 252, 264, 288]),
      undefined, undefined, 2, 3, 2, f(24), 'bf16', Int32Array.from([0, 1, 2, 3, 4, 5, 0, 1]), Int32Array.from([0, 5, 2])],
    kinds: ['str', 'dim', 'i32', 'dim', 'f32any', 'i32', 'other', 'other', 'dim', 'dim', 'dim', 'nullable', 'optstr', 'stream', 'i32'],
  },
  {
    fn: 'lmTeamPlan',
    names: ['cell', 'L', 'hidden', 'V', 'T', 'N', 'rows', 'train', 'threads'],
    args: () => ['gru', 2, Int32Array.from([4, 4]), 6, 2, 3, 2, true, 4],
    kinds: ['str', 'dim', 'i32', 'dim', 'dim', 'dim', 'dim', 'bool', 'dim'],
  },
  {
    // windows at 0 and 4 of 10 tokens, T=3, N=2
    fn: 'fillBatch',
    names: ['tokens', 'starts', 'T', 'inputs', 'targets'],
    args: () => [new Uint16Array(10), Int32Array.from([0, 4]), 3, tok(6), tok(6)],
    kinds: ['other', 'i32out', 'dim', 'i32out', 'i32out'],
  },
  { fn: '_gemmNt', args: () => ['scalar', f(6), f(10), f(15), 2, 3, 5], kinds: ['str', 'f32', 'f32', 'f32', 'dim', 'dim', 'dim'] },
  { fn: '_gemm', args: () => ['scalar', false, f(6), f(10), f(15), 2, 3, 5, false], kinds: ['str', 'other', 'f32', 'f32', 'f32', 'dim', 'dim', 'dim', 'other'] },
  { fn: '_gemmPanels', args: () => ['scalar', f(6), f(10), f(15), 2, 3, 5, false], kinds: ['str', 'f32', 'f32', 'f32', 'dim', 'dim', 'dim', 'other'] },
  { fn: '_mathEval', args: () => ['scalar', 'tanh', f(5), f(5)], kinds: ['str', 'str', 'f32', 'f32any'] },
  { fn: '_gemmTnAcross', args: () => [false], kinds: ['bool'] },
  {
    fn: '_gemmBf16',
    args: () => ['scalar', false, true, f(6), f(10), f(15), 2, 3, 5, false],
    kinds: ['str', 'other', 'other', 'f32', 'f32', 'f32', 'dim', 'dim', 'dim', 'other'],
  },
  { fn: '_gemmBf16Panels', args: () => ['scalar', f(6), f(10), f(15), 2, 3, 5, false], kinds: ['str', 'f32', 'f32', 'f32', 'dim', 'dim', 'dim', 'other'] },
  { fn: '_bf16Round', args: () => [f(5), f(5)], kinds: ['f32', 'f32any'] },
  // K=5, N=6: 3 pairs of k, rows of 16 pairs
  { fn: '_bf16PackB', args: () => [tok(48), f(30), false, 5, 6], kinds: ['i32out', 'f32', 'other', 'dim', 'dim'] },
  { fn: 'outputGone', args: () => [1], kinds: ['count'] },
  // (no such lock file: the environment's end finds nothing to remove; the second call forgets it)
  { fn: 'lockHeld', args: () => [path.join(dir, 'none.lock'), '{"pid":1}'], kinds: ['path', 'path'] },
  { fn: 'lockDropped', args: () => [path.join(dir, 'none.lock'), '{"pid":1}'], kinds: ['path', 'path'] },
  // A valid call writes the target (a promise; the wrong ones throw before anything is written)
  { fn: 'writeFileAtomic', args: () => [path.join(dir, '.w.tmp'), path.join(dir, 'w.bin'), dir, Buffer.from('x')], kinds: ['path', 'path', 'path', 'buffer'] },
];

function show(v: unknown): string {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as Float32Array).length}${(v as Float32Array).byteLength === 0 ? ', empty or detached' : ''})`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function detached(n: number): Float32Array {
  const a = f(n);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

/** A typed array on a SharedArrayBuffer: refused, since another thread could change it while the kernels read it. */
function shared<A extends Float32Array | Int32Array | Uint16Array>(Kind: new (b: SharedArrayBuffer) => A, n: number): A {
  return new Kind(new SharedArrayBuffer(n * 4));
}

function detachedU16(n: number): Uint16Array {
  const a = new Uint16Array(n);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

/** Wrong values for an argument of this kind (each must make the call throw). */
function wrongValues(kind: Kind, valid: unknown): unknown[] {
  const len = (valid as { length?: number })?.length ?? 0;
  const common = [undefined, {}, 'text', [1, 2, 3]];
  switch (kind) {
    case 'f32': return [...common, null, new Float64Array(len), f(len + 1), detached(len), tok(len), shared(Float32Array, len)];
    case 'f32any': return [...common, null, new Float64Array(len), detached(len), shared(Float32Array, len)];
    case 'nullable': return [...common.slice(1), new Float64Array(len), f(len + 1), detached(len)];
    case 'i32': return [...common, null, f(len), tok(len + 1), tok(len, -1), tok(len, 1 << 30), shared(Int32Array, len)];
    // a token stream: a Uint16Array or an Int32Array that holds every window, ids below V (6)
    case 'stream': return [undefined, null, {}, 'text', f(len), detachedU16(len), new Uint16Array(len - 1), Int32Array.from({ length: len }, () => 6),
      Int32Array.from({ length: len }, () => -1), shared(Uint16Array, len)];
    case 'i32out': return [...common, null, f(len), tok(len + 1), shared(Int32Array, len)];  // written, not read
    case 'dim': return [...common, null, 0, -1, 1.5, NaN, Infinity, 2 ** 53, '3'];
    case 'count': return [...common, null, -1, 1.5, NaN, Infinity, 2 ** 53, '3'];  // 0 allowed
    case 'num': return [...common, null, NaN, Infinity, -Infinity];
    case 'str': return [undefined, {}, 7, 'no-such-thing'];
    case 'optstr': return [{}, 7, 'no-such-thing'];  // absent (undefined) is allowed
    case 'bool': return [undefined, null, {}, 1, 'true'];
    case 'path': return [undefined, null, {}, 7, Buffer.from('a'), '', `${(valid as string) ?? ''}\0x`];
    case 'buffer': return [undefined, null, {}, 'text', 7, f(3)];
    default: return [];
  }
}

/** What the valid calls that return a promise (writeFileAtomic) give, awaited at the end. */
const written: Promise<unknown>[] = [];

describe('native boundary', () => {
  it('every exported function is covered', () => {
    // The MPI functions need a job to run in: test/native/mpi.test.ts and test/mpi.
    const exported = Object.keys(nat).filter((k) => typeof nat[k] === 'function' && k !== 'info' && !k.startsWith('mpi')).sort();
    expect([...new Set(CALLS.map((c) => c.fn))].sort()).toEqual(exported);
  });

  it.each(CALLS.map((c, i) => [`${c.fn} #${i}`, c] as const))('%s throws on each wrong argument', (_name, call) => {
    expect(() => {
      const r = nat[call.fn]!(...build(call, call.args()));
      if (r instanceof Promise) written.push(r);
    }).not.toThrow();
    let checked = 0;
    call.kinds.forEach((kind, i) => {
      for (const bad of wrongValues(kind, call.args()[i])) {
        const args = call.args();
        args[i] = bad;
        expect(() => nat[call.fn]!(...build(call, args)), `${call.fn} argument ${call.names?.[i] ?? i} = ${show(bad)}`).toThrow(Error);
        checked++;
      }
    });
    if (call.names) {
      const o = build(call, call.args())[0] as Record<string, unknown>;
      expect(() => nat[call.fn]!()).toThrow(`${call.fn}: expected one options object { ${call.names.join(', ')} }`);
      expect(() => nat[call.fn]!(o, 1)).toThrow(`${call.fn}: expected one options object`);
      expect(() => nat[call.fn]!(call.args())).toThrow(`${call.fn}: expected one options object`);
      expect(() => nat[call.fn]!({ ...o, bogus: 1 })).toThrow(`${call.fn}: unknown option "bogus" (expected ${call.names.join(', ')})`);
      expect(checked).toBeGreaterThan(0);
    } else {
      if (call.args().length > 0) {
        expect(() => nat[call.fn]!(...call.args().slice(0, -1))).toThrow(/expected \d+ arguments, got/);
        expect(checked).toBeGreaterThan(0);
      }
      expect(() => nat[call.fn]!(...call.args(), 1)).toThrow(/expected \d+ arguments, got/);
    }
    native().setSimd(native().info().simdAvailable.at(-1)!);
  });

  it('the valid writes end with the file written and nothing beside it', async () => {
    await Promise.all(written);
    // One of its own, so that the test also runs alone
    await nat.writeFileAtomic!(path.join(dir, '.w.tmp'), path.join(dir, 'w.bin'), dir, Buffer.from('x'));
    expect(readFileSync(path.join(dir, 'w.bin'), 'utf8')).toBe('x');
    expect(readdirSync(dir)).toEqual(['w.bin']);
  });

  it('writeFileAtomic writes the bytes as they were at the call, whatever becomes of the Buffer meanwhile', async () => {
    // (before, read in place on the pool's thread: a Buffer whose ArrayBuffer was transferred away and
    // written, or freed, while the write ran put those bytes, or freed memory, in the file)
    const data = Buffer.alloc(32 * 2 ** 20, 0x41);
    const done = nat.writeFileAtomic!(path.join(dir, '.big.tmp'), path.join(dir, 'big.bin'), dir, data);
    const moved = new Uint8Array(structuredClone(data.buffer, { transfer: [data.buffer] }));
    moved.fill(0x42);
    expect(data.length).toBe(0);
    await done;
    const got = readFileSync(path.join(dir, 'big.bin'));
    expect(got.length).toBe(32 * 2 ** 20);
    expect(got.every((b) => b === 0x41)).toBe(true);
    rmSync(path.join(dir, 'big.bin'));
  });
});
