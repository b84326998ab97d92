// A set's GEMM variants (register tiles, native/simd/*_tall.cc) against its
// own GEMM: bitwise the same products, so that which tile the start-up timing
// picks on a core can change only the speed; and the choice as info() reports it.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { Rng } from '../../src/rng.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const nat = native();
const info = nat.info();
const variants = info.simdAvailable.flatMap((s) => info.gemmTiles[s]!.slice(1).map((t) => [s, t] as const));

function random(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => 2 * rng.uniform() - 1);
}

/** info() of a fresh process with `env` set, after tuneGemm when `tune`. */
function childInfo(env: Record<string, string>, tune: boolean): Record<string, unknown> {
  const code = `import('./dist/index.js').then(({ native }) => { const n = native(); ${tune ? 'n.tuneGemm();' : ''} console.log(JSON.stringify(n.info())); })`;
  return JSON.parse(execFileSync(process.execPath, ['-e', code], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' }));
}

describe('GEMM tiles', () => {
  it('every set lists its own tile first, and the one in use is among the tiles of the set in use', () => {
    for (const s of info.simdAvailable) expect(info.gemmTiles[s]!.length, s).toBeGreaterThanOrEqual(1);
    expect(info.gemmTiles[info.simd]).toContain(info.gemmTile);
    // a tile, or two joined by "+": the products other than C += A^T B by the first, those by the second
    for (const [s, t] of variants) expect(t, s).toMatch(/^\d+x\d+(\+\d+x\d+)?$/);
  });

  it.runIf(variants.length > 0)('each variant gives bitwise the products of its set\'s own tile, over ragged shapes and several passes of k', () => {
    const rng = new Rng(77);
    // Rows that no tile height divides, or only with small tiles after the main ones (16 = 12 + 4,
    // 20 = 12 + 4 + 4, 32 = 24 + 4 + 4, 5 = 4 + a partial one), columns past whole tiles, K past
    // one and several passes.
    const shapes = [[1, 1, 1], [11, 33, 257], [13, 65, 300], [25, 2048, 40], [26, 130, 513], [50, 100, 1100], [37, 97, 1025], [128, 48, 700], [7, 200, 2049],
      [16, 96, 32], [20, 70, 33], [32, 1024, 256], [5, 40, 9], [2, 64, 300]];
    for (const [s, tile] of variants) {
      for (const [M, N, K] of shapes) {
        for (const transA of [false, true]) {
          const A = random(M! * K!, rng), B = random(K! * N!, rng), C0 = random(M! * N!, rng);
          const own = C0.slice(), alt = C0.slice();
          nat._gemm(s, transA, own, A, B, M!, N!, K!, transA);
          nat._gemm(`${s}:${tile}`, transA, alt, A, B, M!, N!, K!, transA);
          expect(Buffer.from(alt.buffer).equals(Buffer.from(own.buffer)), `${s}:${tile} ${transA ? 'tn' : 'nn'} ${M}x${N}x${K}`).toBe(true);
        }
      }
    }
  });

  // A weight gradient by a short tile of AVX2 or AVX-512 (5 x 64, 6 x 16) with four segments or more
  // and sixteen row tiles or more goes down the rows of C, each segment's B packed (gemm_impl.h's
  // gemm_share); the tall tile, the other tables and narrower shapes go across, as every weight
  // gradient did before (_gemmTnAcross(true) brings that order back). Both orders sum each element
  // over k in the same order: the same bits either way, for every tile and thread count, over one
  // and several passes of k (128 deep), a ragged last segment and row tiles of every height.
  it('weight gradients give the same bits going down the rows or across, by every tile and on 1, 2 and 3 threads', () => {
    const rng = new Rng(79);
    const before = nat.info().threads, acrossBefore = nat._gemmTnAcross(false);
    const shapes = [[80, 256, 64], [96, 300, 260], [161, 520, 129], [2048, 512, 40], [85, 64, 300], [79, 1024, 33], [100, 96, 70]];
    try {
      for (const s of info.simdAvailable) {
        for (const [M, N, K] of shapes) {
          const A = random(K! * M!, rng), B = random(K! * N!, rng), C0 = random(M! * N!, rng);
          const run = (table: string, threads: number, across = false) => {
            nat.setThreads(threads);
            nat._gemmTnAcross(across);
            const C = C0.slice();
            nat._gemm(table, true, C, A, B, M!, N!, K!, true);
            return Buffer.from(C.buffer);
          };
          const old = run(s, 1, true);
          for (const threads of [1, 2, 3]) {
            expect(run(s, threads).equals(old), `${s} tn ${M}x${N}x${K}, ${threads} threads`).toBe(true);
            expect(run(s, threads, true).equals(old), `${s} tn ${M}x${N}x${K} across, ${threads} threads`).toBe(true);
            for (const tile of info.gemmTiles[s]!.slice(1)) {
              expect(run(`${s}:${tile}`, threads).equals(old), `${s}:${tile} tn ${M}x${N}x${K}, ${threads} threads`).toBe(true);
            }
          }
        }
      }
    } finally {
      nat._gemmTnAcross(acrossBefore);
      nat.setThreads(before);
    }
  });

  it('B in panels of 64 columns gives bitwise the products of B row by row, for every set and tile', () => {
    const rng = new Rng(78);
    // Panels and segments: N below one panel, past whole panels, ragged remainders (padded and exact
    // segments in the last panel); K past one pass; accumulating and not.
    const shapes = [[1, 1, 1], [3, 5, 7], [25, 64, 33], [25, 100, 512], [13, 130, 257], [26, 2048, 512], [12, 200, 1025], [7, 97, 2049], [50, 37, 64]];
    const panels = (B: Float32Array, K: number, N: number): Float32Array => {
      const out = new Float32Array(K * N);
      for (let p0 = 0; p0 < N; p0 += 64) {
        const w = Math.min(64, N - p0);
        for (let k = 0; k < K; k++) for (let j = 0; j < w; j++) out[p0 * K + k * w + j] = B[k * N + p0 + j]!;
      }
      return out;
    };
    const tables = [...info.simdAvailable, ...variants.map(([s, t]) => `${s}:${t}`)];
    let checked = 0;
    for (const t of tables) {
      for (const [M, N, K] of shapes) {
        for (const accumulate of [false, true]) {
          const A = random(M! * K!, rng), B = random(K! * N!, rng), C0 = random(M! * N!, rng);
          const rows = C0.slice(), inPanels = C0.slice();
          nat._gemm(t, false, rows, A, B, M!, N!, K!, accumulate);
          nat._gemmPanels(t, inPanels, A, panels(B, K!, N!), M!, N!, K!, accumulate);
          expect(Buffer.from(inPanels.buffer).equals(Buffer.from(rows.buffer)), `${t} ${M}x${N}x${K}${accumulate ? ' +=' : ''}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBe(tables.length * shapes.length * 2);
  });

  it('an unknown tile of a set is refused by name', () => {
    expect(() => nat._gemm(`${info.simd}:3x3`, false, new Float32Array(1), new Float32Array(1), new Float32Array(1), 1, 1, 1, false))
      .toThrow(`_gemm: argument "simd" must name a supported instruction set, or SET:TILE one of its GEMM tiles, got "${info.simd}:3x3"`);
  });

  it('is timed once a batch path asks (or tuneGemm), forced by DEEPRNN_GEMM_TILE, and refused when the set has no such tile', () => {
    const tiles = info.gemmTiles[info.simd]!;
    const before = childInfo({}, false), after = childInfo({}, true);
    if (tiles.length > 1) {
      expect(before.gemmTileChoice).toBe('untimed');
      expect(before.gemmTile).toBe(tiles[0]);
      expect(after.gemmTileChoice).toBe('timed');
      const timing = after.gemmTileTiming as Record<string, number>;
      const kinds = after.gemmKindTiming as Record<string, { nn: number; tn: number }>;
      expect(Object.keys(timing).sort()).toEqual([...tiles].sort());
      for (const ms of Object.values(timing)) expect(ms).toBeGreaterThan(0);
      // each kind timed for the tiles of their own; a "+" variant's figure is its pair's, kind by kind
      const own = tiles.filter((t) => !t.includes('+'));
      expect(Object.keys(kinds).sort()).toEqual([...own].sort());
      const pair = (t: string) => (t.includes('+') ? t.split('+') as [string, string] : [t, t] as const);
      for (const t of tiles) {
        const [nn, tn] = pair(t);
        expect(kinds[nn]!.nn).toBeGreaterThan(0);
        expect(timing[t]).toBeCloseTo(kinds[nn]!.nn + kinds[tn]!.tn, 9);
      }
      // each kind by its fastest tile when at least 5% faster than the set's own, else the set's own
      const pick = (kind: 'nn' | 'tn') => {
        const fastest = own.reduce((a, b) => (kinds[b]![kind] < kinds[a]![kind] ? b : a));
        return kinds[fastest]![kind] < 0.95 * kinds[tiles[0]!]![kind] ? fastest : tiles[0]!;
      };
      const [nn, tn] = [pick('nn'), pick('tn')];
      expect(after.gemmTile).toBe(nn === tn ? nn : `${nn}+${tn}`);
    } else {
      expect(after.gemmTileChoice).toBe('only');
      expect(after.gemmTileTiming).toEqual({});
      expect(after.gemmKindTiming).toEqual({});
    }
    for (const t of tiles) {
      const forced = childInfo({ DEEPRNN_GEMM_TILE: t }, true);
      expect(forced.gemmTile).toBe(t);
      expect(forced.gemmTileChoice).toBe('forced');
    }
    expect(() => childInfo({ DEEPRNN_GEMM_TILE: '3x3' }, false)).toThrow(
      `info: DEEPRNN_GEMM_TILE must be one of ${tiles.join('|')} for ${info.simd}, got "3x3"`);
  });
});
