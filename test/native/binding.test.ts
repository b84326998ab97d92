// The native boundary: every exported function refuses wrong arguments with
// an Error that names the argument, and the kernel tables agree.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { addonFile, native } from '../../src/native.js';
import { CELLS } from '../../src/nn/config.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { RNNLMScratch } from '../../src/nn/scratch.js';
import { Rng } from '../../src/rng.js';
import { randomBatch } from '../helpers/batch.js';
import { expectClose } from '../helpers/compare.js';
import { ROOT } from '../helpers/paths.js';

const nat = native();
const f = (n: number) => new Float32Array(n);

describe('argument checks', () => {
  it('cellForward names each wrong option', () => {
    // gru, T=2, N=3, H=4: y 24, hT 12, saved 2*3*16, gx 72, h0 12, whh 48, bhh 12
    const ok = () => ({ cell: 'gru', y: f(24), hT: f(12), cT: null, saved: f(96), gx: f(72), h0: f(12), c0: null, whh: f(48),
      bhh: f(12), T: 2, N: 3, H: 4 }) as Record<string, unknown>;
    const call = (o: Record<string, unknown>) => () => (nat.cellForward as (o: unknown) => void)(o);
    expect(call(ok())).not.toThrow();
    const with_ = (k: string, v: unknown) => ({ ...ok(), [k]: v });
    expect(call(with_('cell', 'tree'))).toThrow('cellForward: option "cell" must be one of rnn|rnn-relu|gru|lstm|mgu, got "tree"');
    expect(call(with_('y', f(23)))).toThrow('cellForward: option "y" must have length 24, got 23');
    expect(call(with_('y', new Float64Array(24)))).toThrow('cellForward: option "y" must be a Float32Array');
    expect(call(with_('gx', [1, 2]))).toThrow('cellForward: option "gx" must be a Float32Array');
    expect(call(with_('whh', f(12)))).toThrow('cellForward: option "whh" must have length 48, got 12');
    expect(call(with_('T', 0))).toThrow('cellForward: option "T" must be an integer from 1 to');
    expect(call(with_('N', 1.5))).toThrow('cellForward: option "N" must be an integer from 1 to');
    expect(call(with_('H', '4'))).toThrow('cellForward: option "H" must be an integer, got a non-number');
    expect(call(with_('H', 2 ** 32))).toThrow('cellForward: option "H" must be an integer from 1 to 2147483648, got');
    const { saved, ...missing } = ok();
    expect(saved).toBeDefined();
    expect(call(missing)).toThrow('cellForward: option "saved" must be a Float32Array');
    expect(call(with_('hx', f(12)))).toThrow('cellForward: unknown option "hx" (expected cell, y, hT, cT, saved, gx, h0, c0, whh, bhh, T, N, H)');
    expect(() => (nat.cellForward as (...a: unknown[]) => void)('gru', f(24))).toThrow('cellForward: expected one options object');
  });

  it('a cell that carries c needs its cell state buffers', () => {
    const o = { cell: 'lstm', y: f(24), hT: f(12), cT: null, saved: f(2 * 3 * 24), gx: f(96), h0: f(12), c0: f(12), whh: f(64),
      bhh: f(16), T: 2, N: 3, H: 4 };
    expect(() => nat.cellForward(o as never)).toThrow('cellForward: option "cT" must be a Float32Array');
  });

  it('refuses detached buffers', () => {
    const y = f(24);
    structuredClone(y.buffer, { transfer: [y.buffer] });
    expect(() => nat.cellForward({ cell: 'rnn', y, hT: f(12), cT: null, saved: f(0), gx: f(24), h0: f(12), c0: null, whh: f(16),
      bhh: f(4), T: 2, N: 3, H: 4 })).toThrow('cellForward: option "y" is a detached Float32Array');
  });

  it('refuses arrays on a SharedArrayBuffer, which another thread could change while they are read', () => {
    const y = new Float32Array(new SharedArrayBuffer(96));
    expect(() => nat.cellForward({ cell: 'rnn', y, hT: f(12), cT: null, saved: f(0), gx: f(24), h0: f(12), c0: null, whh: f(16),
      bhh: f(4), T: 2, N: 3, H: 4 })).toThrow('cellForward: option "y" is a Float32Array on a SharedArrayBuffer: another thread '
      + 'could change it while it is read; give a Float32Array of its own (a copy: Float32Array.from(x))');
    expect(() => nat.sumSquares(Float32Array.from(y))).not.toThrow();
    expect(() => nat.fillBatch({ tokens: new Uint16Array(new SharedArrayBuffer(20)), starts: Int32Array.from([0]), T: 3,
      inputs: new Int32Array(3), targets: new Int32Array(3) })).toThrow('fillBatch: option "tokens" is a Uint16Array on a SharedArrayBuffer');
  });

  it('refuses token ids outside the vocabulary', () => {
    expect(() => nat.embeddingForward(f(6), Int32Array.from([0, 5]), f(15), f(3), 2, 5, 3))
      .toThrow('embeddingForward: argument "tokens"[1] = 5 is outside [0, 5)');
    expect(() => nat.xentForward(f(4), f(6), f(6), f(2), Int32Array.from([-1, 0]), 2, 3, 2))
      .toThrow('xentForward: argument "targets"[0] = -1 is outside [0, 2)');
    expect(() => nat.embeddingBackward(f(15), f(3), f(6), new Uint32Array(2) as never, 2, 5, 3))
      .toThrow('embeddingBackward: argument "tokens" must be an Int32Array');
  });

  it('checks the other functions', () => {
    expect(() => nat.linearForward(f(6), f(4), f(6), f(3), 2, 3, 3)).toThrow('linearForward: argument "x" must have length 6, got 4');
    expect(() => nat.linearBackward(f(1), f(6), f(3), f(6), f(4), f(6), 2, 2, 3)).toThrow('linearBackward: argument "dx" must have length 4, got 1');
    expect(() => nat.xentForwardBackward(f(6), f(6), f(2), f(4), f(6), f(6), f(2), Int32Array.from([0, 1]), 2, 3, 2, NaN))
      .toThrow('xentForwardBackward: argument "scale" must be finite');
    expect(() => nat.cellBackward({ cell: 'rnn', dgx: f(24), dh0: f(12), dc0: null, dwhh: f(16), dbhh: f(4), dy: f(24), dhT: f(3),
      dcT: null, saved: f(0), y: f(24), h0: f(12), c0: null, whh: f(16), T: 2, N: 3, H: 4 }))
      .toThrow('cellBackward: option "dhT" must have length 12, got 3');
    expect(() => nat.savedSize('gru', 2 ** 30, 2 ** 30, 2 ** 30)).toThrow('savedSize: T*N is too large');
    expect(() => nat.sgdStep(f(3), f(2), 1)).toThrow('sgdStep: argument "grads" must have length 3, got 2');
    expect(() => nat.scale(f(3), Infinity)).toThrow('scale: argument "s" must be finite');
    expect(() => nat.sumSquares('x' as never)).toThrow('sumSquares: argument "x" must be a Float32Array');
    expect(() => nat.setThreads(0)).toThrow('setThreads: argument "threads" must be an integer from 1 to 1024, got 0');
    // The value as JavaScript prints it (before: std::to_string's "0.000000", "1.500000", "2000.000000").
    for (const v of [0, -0, 1.5, 0.1, -2.5, 2000, 1e300, NaN, -Infinity, 0.00001, 1.5e-7, 2 ** 60, 123456789012345680000, 1e21, 1.2e-6, 5e-324,
      Number.MAX_VALUE, 1234.5678]) {
      const text = String(v);
      expect(() => nat.setThreads(v), text).toThrow(new RegExp(`^setThreads: argument "threads" must be an integer from 1 to 1024, got ${text.replace(/[.+]/g, '\\$&')}$`));
    }
  });
});

describe('fill and copy', () => {
  it('set every element, on the threads for large buffers, and copy between overlapping views of one buffer', () => {
    for (const n of [0, 1, 17, (1 << 14) + 3, 3 * (1 << 15) + 5]) {
      const x = Float32Array.from({ length: n }, (_, i) => i + 0.5);
      nat.fill(x, -2.25);
      expect(x.every((v) => v === -2.25)).toBe(true);
      const src = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
      const dst = new Float32Array(n).fill(7);
      nat.copy(dst, src);
      expect(dst).toEqual(src);
    }
    // dst and src views of one buffer that overlap: the result of a copy through a temporary
    const n = 3 * (1 << 15);
    const buf = Float32Array.from({ length: n + 100 }, (_, i) => i);
    const want = buf.slice(0, n);
    nat.copy(buf.subarray(100), buf.subarray(0, n));
    expect(buf.subarray(100)).toEqual(want);
    const back = Float32Array.from({ length: n + 100 }, (_, i) => i);
    nat.copy(back.subarray(0, n), back.subarray(100));
    expect(back.subarray(0, n)).toEqual(Float32Array.from({ length: n }, (_, i) => i + 100));
  });

  it('refuse buffers of different lengths, a value that is not finite, and shared buffers', () => {
    expect(() => nat.copy(f(3), f(2))).toThrow('copy: argument "src" must have length 3, got 2');
    expect(() => nat.fill(f(3), NaN)).toThrow('fill: argument "v" must be finite');
    expect(() => nat.fill(new Float32Array(new SharedArrayBuffer(8)), 0)).toThrow('fill: argument "x" is a Float32Array on a SharedArrayBuffer');
  });
});

describe('sgdStepChecked', () => {
  it('is bitwise copy, scale and sgdStep in turn, on any threads; says whether every weight is finite', () => {
    const threads = nat.info().threads;
    try {
      for (const t of [1, 2, 3]) {
        nat.setThreads(t);
        for (const n of [5, 4099, 3 * (1 << 15) + 7]) {
          for (const gradScale of [1, 0.37]) {
            const r = new Rng(n);
            const p = Float32Array.from({ length: n }, () => r.uniform() * 2 - 1);
            const g = Float32Array.from({ length: n }, () => r.uniform() * 6 - 3);
            const [p2, g2, backup] = [p.slice(), g.slice(), new Float32Array(n)];
            const want = p.slice();
            if (gradScale !== 1) nat.scale(g, gradScale);
            nat.sgdStep(p, g, 0.3);
            expect(nat.sgdStepChecked({ params: p2, grads: g2, backup, lr: 0.3, gradScale })).toBe(true);
            expect(Buffer.from(p2.buffer).equals(Buffer.from(p.buffer))).toBe(true);
            expect(Buffer.from(g2.buffer).equals(Buffer.from(g.buffer))).toBe(true);
            expect(backup).toEqual(want);
            // One weight that overflows, or a NaN gradient, anywhere: false.
            for (const at of [0, n >> 1, n - 1]) {
              const q = want.slice();
              const h = new Float32Array(n);
              h[at] = -3e38;
              expect(nat.sgdStepChecked({ params: q, grads: h, backup, lr: 2, gradScale: 1 })).toBe(false);
              h[at] = NaN;
              expect(nat.sgdStepChecked({ params: want.slice(), grads: h, backup, lr: 2, gradScale: 1 })).toBe(false);
            }
          }
        }
      }
    } finally {
      nat.setThreads(threads);
    }
  });

  it('refuses buffers that share memory', () => {
    const buf = new Float32Array(30);
    expect(() => nat.sgdStepChecked({ params: buf.subarray(0, 10), grads: buf.subarray(10, 20), backup: buf.subarray(5, 15), lr: 1, gradScale: 1 }))
      .toThrow('sgdStepChecked: options "params", "grads" and "backup" must be three buffers apart, not views of one another\'s memory');
    expect(() => nat.sgdStepChecked({ params: buf.subarray(0, 10), grads: buf.subarray(10, 20), backup: buf.subarray(20, 30), lr: 1, gradScale: 1 }))
      .not.toThrow();
  });
});

describe('fillBatch', () => {
  it('gathers windows time-major from 16- and 32-bit tokens', () => {
    for (const tokens of [Uint16Array.from([5, 6, 7, 8, 9, 10]), Int32Array.from([5, 6, 7, 8, 9, 10])]) {
      const inputs = new Int32Array(6).fill(-1), targets = new Int32Array(6).fill(-1);
      nat.fillBatch({ tokens, starts: Int32Array.from([2, 0]), T: 3, inputs, targets });
      expect([...inputs]).toEqual([7, 5, 8, 6, 9, 7]);
      expect([...targets]).toEqual([8, 6, 9, 7, 10, 8]);
    }
  });

  it('refuses a window outside the tokens and tokens of another type', () => {
    const io = () => ({ inputs: new Int32Array(3), targets: new Int32Array(3) });
    expect(() => nat.fillBatch({ tokens: new Uint16Array(5), starts: Int32Array.from([2]), T: 3, ...io() }))
      .toThrow('fillBatch: option "starts"[0] = 2: a window of 4 tokens must lie inside the 5 tokens');
    expect(() => nat.fillBatch({ tokens: new Uint16Array(5), starts: Int32Array.from([-1]), T: 3, ...io() }))
      .toThrow('fillBatch: option "starts"[0] = -1: a window of 4 tokens must lie inside the 5 tokens');
    expect(() => nat.fillBatch({ tokens: new Float32Array(5) as never, starts: Int32Array.from([0]), T: 3, ...io() }))
      .toThrow('fillBatch: option "tokens" must be a Uint16Array or an Int32Array');
  });
});

describe('kernel tables', () => {
  const info = nat.info();

  it('lmTrainChunks / lmEvalChunks check the model shape against params', () => {
    const i32 = (...v: number[]) => Int32Array.from(v);
    const tok = (n: number) => new Int32Array(n);
    // gru, hidden [4, 4], V=6, T=2, N=3: 294 parameters
    const offsets = () => i32(0, 72, 120, 132, 144, 192, 240, 252, 264, 288);
    const train = (hidden: Int32Array, offs: Int32Array, masks: Float32Array | null, P = 294) =>
      () => nat.lmTrainChunks({ cell: 'gru', L: hidden.length, hidden, V: 6, params: f(P), grads: f(P), offsets: offs, inputs: tok(6),
        targets: tok(6), T: 2, N: 3, rows: 2, masks, state: null, scale: 0.5 });
    expect(train(i32(4, 4), offsets(), null)).not.toThrow();
    expect(train(i32(4, 0), offsets(), null)).toThrow('lmTrainChunks: option "hidden"[1] must be at least 1');
    const late = offsets();
    late[1] = 250;  // W_hh of layer 0 (48 floats) would end past 294
    expect(train(i32(4, 4), late, null)).toThrow('lmTrainChunks: option "offsets"[1] leaves no room in params for 48 floats');
    // one layer of 4: 72 + 48 + 12 + 12 + 24 + 6 = 174 parameters, nothing to mask
    const one = i32(0, 72, 120, 132, 144, 168);
    expect(train(i32(4), one, f(24), 174)).toThrow('lmTrainChunks: option "masks" must be null for a single layer');
    expect(() => nat.lmEvalChunks({ cell: 'gru', L: 2, hidden: i32(4, 4), V: 6, params: f(294), offsets: late, inputs: tok(6),
      targets: tok(6), T: 2, N: 3, rows: 2, state: null })).toThrow('lmEvalChunks: option "offsets"[1] leaves no room in params for 48 floats');
  });

  it('reports what runs', () => {
    expect(info.simdAvailable[0]).toBe('scalar');
    expect(info.simdAvailable).toContain(info.simd);
    expect(info.threads).toBeGreaterThanOrEqual(1);
  });

  it('refuses an unknown instruction set by name', () => {
    expect(() => nat.setSimd('sse9')).toThrow(/setSimd: DEEPRNN_SIMD must be one of scalar(\|avx2\|avx512)?, got "sse9"/);
    const out = execFileSync(process.execPath, ['-e', `
      const m = require(process.argv[1]);
      try { m.info(); console.log('no error'); } catch (e) { console.log(e.message); }`, addonFile()],
    { cwd: ROOT, env: { ...process.env, DEEPRNN_SIMD: 'bogus' }, encoding: 'utf8' });
    expect(out.trim()).toMatch(/^info: DEEPRNN_SIMD must be one of scalar.*, got "bogus"$/);
  });

  it.each(info.simdAvailable)('%s matches the float64 oracle for every cell', (isa) => {
    nat.setSimd(isa);
    try {
      for (const cell of CELLS) {
        const cfg = { cell, vocabSize: 19, hidden: [37, 17], dropout: 0 };
        const model = new RNNLM(cfg, new Rng(2));
        const ref = new RNNLMScratch(cfg);
        ref.params.set(model.params);
        const batch = randomBatch(5, 21, 19, 8);
        model.zeroGrad();
        ref.zeroGrad();
        expectClose(`${isa} ${cell} loss`, [model.forward(batch, { train: true })], [ref.forward(batch, { train: true })], 1e-5);
        model.backward();
        ref.backward();
        expectClose(`${isa} ${cell} grads`, model.grads, ref.grads, 1e-4);
      }
    } finally {
      nat.setSimd(info.simd);
    }
  });
});

describe('threads', () => {
  it('give bitwise-identical losses and gradients with 1 thread and with all', () => {
    const all = nat.info().threads;
    const run = (threads: number) => {
      nat.setThreads(threads);
      const model = new RNNLM({ cell: 'gru', vocabSize: 28, hidden: [32, 32], dropout: 0 }, new Rng(4));
      const batch = randomBatch(16, 256, 28, 2);
      model.zeroGrad();
      const loss = model.forward(batch, { train: true });
      model.backward();
      return { loss, grads: Float32Array.from(model.grads) };
    };
    try {
      const one = run(1);
      const many = run(Math.max(2, all));
      expect(many.loss).toBe(one.loss);
      expect(Buffer.from(many.grads.buffer).equals(Buffer.from(one.grads.buffer))).toBe(true);
    } finally {
      nat.setThreads(all);
    }
  });
});

describe('memory', () => {
  // (AddressSanitizer cannot reserve its shadow memory under an address-space limit, and aborts on a failed allocation)
  const sanitized = /asan/.test(process.env.LD_PRELOAD ?? '') || /asan/.test(process.env.DEEPRNN_ADDON ?? '');
  it.skipIf(sanitized)('a batch too large for memory ends the call with an Error naming the bytes, not the process', () => {
    // A window of a million steps of an LSTM of 2,048 units needs about 84 GiB of
    // buffers; under an 8 GB address-space limit its allocation fails on any machine.
    const index = pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href;
    const script = `import('${index}').then(({ RNNLM, evaluateTokens }) => {
      const m = new RNNLM({ cell: 'lstm', vocabSize: 28, hidden: [2048], dropout: 0 });
      const T = 1e6;
      for (const call of [() => m.forward({ T, N: 1, inputs: new Int32Array(T), targets: new Int32Array(T) }),
        () => evaluateTokens(m, new Int32Array(T + 1), { numSteps: T, batchSize: 1 })]) {
        try { call(); console.log('no error'); } catch (e) { console.log(e.message); }
      }
      console.log(m.forward({ T: 4, N: 2, inputs: new Int32Array(8), targets: new Int32Array(8) }) > 0 ? 'still works' : 'wrong');
    })`;
    // (two threads: on a machine of many cores each thread's stack counts against the limit)
    const r = spawnSync('bash', ['-c', `ulimit -v 8000000 && exec "${process.execPath}" --input-type=module -e "$0"`, script],
      { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines.slice(0, 2)) {
      expect(line).toMatch(/^lmEvalChunks: out of memory: its buffers need \d+\.\d GiB that could not be allocated; use fewer rows \(batch\), fewer steps per window or a smaller model$/);
    }
    expect(lines[2]).toBe('still works');
  });
});
