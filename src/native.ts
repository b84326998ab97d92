// The only file that loads the compiled addon. Every native function is typed
// here; shapes are row-major, T=steps, N=batch, H=hidden, G=gates, V=vocab, M=rows.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseThreads, unparsableOpenMp } from './threads.js';

/** The cell kinds, by the names native/kernels/cells.cc's descriptors give them (cells() lists the rest). */
export type CellKind = 'rnn' | 'rnn-relu' | 'gru' | 'lstm' | 'mgu';

/** A cell kind as native code describes it (CellSpec in native/kernels/cells.h). */
export interface CellInfo {
  name: CellKind;
  /** Gate blocks: weight_ih is (gates*H, I), weight_hh (gates*H, H), the biases (gates*H). */
  gates: number;
  /** The gate blocks' names, in order (PyTorch's order where PyTorch has the cell). */
  gateNames: string;
  /** Floats per step, row and unit the forward keeps for the backward. */
  saved: number;
  /** Floats per step, row and unit of the backward's extra gradient buffer. */
  backwardExtra: number;
  /** The cell carries a cell state c beside h (LSTM). */
  carriesC: boolean;
}

/** Arithmetic of the matrix products: float32, or bf16 operands with float32 sums (native/kernels/lm.h). */
export type Precision = 'fp32' | 'bf16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16'];

export interface NativeInfo {
  openmp: boolean;
  threads: number;
  /** Threads per team that runs a chunk: 0 when the cost model chooses (see setTeamSize). */
  teamSize: number;
  /** Whether layers of 128 units or more read W_hh in panels of 64 columns (false under DEEPRNN_PANELS=0). */
  whhPanels: boolean;
  simd: string;
  simdAvailable: string[];
  /**
   * Each available set's GEMM tiles (rows x columns of C per register tile, or
   * two joined by "+": C += A^T B by the second, the other products by the
   * first), the set's own first.
   */
  gemmTiles: Record<string, string[]>;
  /** The tile the set in use multiplies with. */
  gemmTile: string;
  /**
   * How it was chosen: 'only' (the set has one), 'forced' (DEEPRNN_GEMM_TILE),
   * 'untimed' (the set's own, before the first batch or tuneGemm times them)
   * or 'timed' (the fastest of a short timing on this core).
   */
  gemmTileChoice: 'only' | 'forced' | 'untimed' | 'timed';
  /**
   * The timing behind 'timed': tile -> milliseconds (the best runs of the products it would run of each
   * kind, summed: each kind by its own tile of the pair for a "+" variant).
   */
  gemmTileTiming: Record<string, number>;
  /**
   * The same timing by kind, for the set's tiles of their own (no "+"): milliseconds of C = A B (nn:
   * eight steps of a recurrent product and an input projection) and of C += A^T B (tn: a weight gradient).
   * The timing keeps the variant that runs each kind by its fastest tile (the set's own unless another is
   * at least 5% faster at that kind).
   */
  gemmKindTiming: Record<string, { nn: number; tn: number }>;
  /**
   * The bf16 product path in use: "avx512bf16", "amx", or "emulated (<table>)" (float32 FMAs, see
   * simd/bf16.h), "emulated (amx-model)" (the AMX path's code on a software model of its tiles).
   */
  bf16: string;
  /** Whether this CPU runs bf16 dot products in hardware (AVX512-BF16). */
  bf16Hardware: boolean;
  /** Whether this CPU and OS let the AMX path run (AMX-BF16 tiles; DEEPRNN_BF16=amx chooses it). */
  bf16Amx: boolean;
}

export interface MpiInfo {
  /** MPI support was built (an MPI header was found). */
  built: boolean;
  /** The MPI the addon was built for ("Open MPI 4.1.4"), or null. */
  header: string | null;
  /** The MPI library opened (its path), or null before mpiInit. */
  library: string | null;
  /** The library's own version string, once initialised. */
  version: string | null;
  initialized: boolean;
  rank: number;
  size: number;
}

/**
 * A batch for lmTrainChunks / lmEvalChunks: the model (cell, L layers of
 * `hidden` units, vocabulary V, the flat params and where each layer's
 * W_ih, W_hh, b_ih, b_hh and then the output layer's W, b start) and T x N
 * time-major tokens in chunks of `rows` windows. state: null, or per layer h
 * (N, H_l) then per layer c (cells that carry c), read as the initial state and
 * overwritten with the final one.
 */
export interface LmBatch {
  cell: CellKind;
  L: number;
  hidden: Int32Array;
  V: number;
  params: Float32Array;
  offsets: Int32Array;
  /** (T, N) token ids, time-major; or give tokens and starts instead. */
  inputs?: Int32Array;
  targets?: Int32Array;
  /**
   * The batch's windows in a token stream, in place of inputs and targets:
   * inputs[t, n] = tokens[starts[n] + t], targets[t, n] = tokens[starts[n] + t + 1]
   * (each window of T + 1 tokens inside tokens). Each chunk gathers its own
   * windows on its threads; an id outside [0, V) is an Error and nothing is computed.
   */
  tokens?: Uint16Array | Int32Array;
  starts?: Int32Array;
  T: number;
  N: number;
  rows: number;
  state: Float32Array | null;
  /** Absent: fp32. */
  precision?: Precision;
}

export interface NativeBinding {
  info(): NativeInfo;
  setThreads(threads: number): void;
  /** Times the GEMM tiles of the set in use now (the first training or evaluation batch does it otherwise); results never change, only speed. */
  tuneGemm(): void;
  setSimd(name: string): void;
  /** The bf16 product path as DEEPRNN_BF16 names it: "avx512bf16", "emulated", or "" for the default. */
  setBf16(name: string): void;
  /**
   * The bf16 path the products run on, named as info().bf16 names it, chosen now if it was not yet:
   * where the default is AMX, Linux is asked for its permission here (info() only says what the
   * default would choose), and where it refuses, the products run on vdpbf16ps and this says so.
   */
  bf16Path(): string;
  /**
   * Teams of n threads run each chunk of a batch (splitting its layers by
   * hidden units); 0 lets a cost model choose from the chunks, widths and
   * threads. Results are the same for every choice. DEEPRNN_TEAM_SIZE sets the
   * starting value.
   */
  setTeamSize(n: number): void;
  /** Every cell kind's descriptor. */
  cells(): CellInfo[];
  savedSize(cell: CellKind, T: number, N: number, H: number): number;
  /** One layer over a whole sequence, on this thread. */
  cellForward(o: {
    cell: CellKind;
    y: Float32Array; // (T, N, H) out
    hT: Float32Array; // (N, H) out
    cT: Float32Array | null; // (N, H) out, cells that carry c
    saved: Float32Array; // savedSize out
    gx: Float32Array; // (T, N, G*H) input projection incl. b_ih
    h0: Float32Array; // (N, H)
    c0: Float32Array | null; // (N, H), cells that carry c
    whh: Float32Array; // (G*H, H)
    bhh: Float32Array; // (G*H)
    T: number; N: number; H: number;
  }): void;
  cellBackward(o: {
    cell: CellKind;
    dgx: Float32Array; // (T, N, G*H) out
    dh0: Float32Array; // (N, H) out
    dc0: Float32Array | null; // (N, H) out, cells that carry c
    dwhh: Float32Array; // (G*H, H) +=
    dbhh: Float32Array; // (G*H) +=
    dy: Float32Array; // (T, N, H)
    dhT: Float32Array | null; // (N, H) or null for zero
    dcT: Float32Array | null; // (N, H) or null, cells that carry c
    saved: Float32Array; // from cellForward
    y: Float32Array; // (T, N, H) from cellForward
    h0: Float32Array; // (N, H)
    c0: Float32Array | null; // (N, H), cells that carry c
    whh: Float32Array; // (G*H, H)
    T: number; N: number; H: number;
  }): void;
  linearForward(out: Float32Array /* (M, O) */, x: Float32Array /* (M, I) */, W: Float32Array /* (O, I) */,
    b: Float32Array /* (O) */, M: number, I: number, O: number): void;
  linearBackward(dx: Float32Array | null /* (M, I) */, dW: Float32Array /* (O, I) += */, db: Float32Array /* (O) += */,
    dout: Float32Array /* (M, O) */, x: Float32Array /* (M, I) */, W: Float32Array /* (O, I) */,
    M: number, I: number, O: number): void;
  embeddingForward(out: Float32Array /* (M, O) */, tokens: Int32Array /* (M) */, W: Float32Array /* (O, V) */,
    b: Float32Array /* (O) */, M: number, V: number, O: number): void;
  embeddingBackward(dW: Float32Array /* (O, V) += */, db: Float32Array /* (O) += */, dout: Float32Array /* (M, O) */,
    tokens: Int32Array /* (M) */, M: number, V: number, O: number): void;
  xentForward(logits: Float32Array /* (M, V) out */, Y: Float32Array /* (M, H) */, W: Float32Array /* (V, H) */,
    b: Float32Array /* (V) */, targets: Int32Array /* (M) */, M: number, H: number, V: number): { loss: number; correct: number };
  xentForwardBackward(dY: Float32Array /* (M, H) out */, dW: Float32Array /* (V, H) += */, db: Float32Array /* (V) += */,
    logits: Float32Array /* (M, V) scratch */, Y: Float32Array /* (M, H) */, W: Float32Array /* (V, H) */,
    b: Float32Array /* (V) */, targets: Int32Array /* (M) */, M: number, H: number, V: number, scale: number): number;
  /** Every element of x set to v, on the threads when x is large. */
  fill(x: Float32Array, v: number): void;
  /** dst = src (the same length), on the threads when they are large. */
  copy(dst: Float32Array, src: Float32Array): void;
  sumSquares(x: Float32Array): number;
  scale(x: Float32Array, s: number): void;
  sgdStep(params: Float32Array, grads: Float32Array, lr: number): void;
  /**
   * Plain SGD in one pass, keeping the weights as they were: backup = params;
   * grads *= gradScale (not when it is 1); params -= lr * grads. Bitwise the
   * same as copy, scale and sgdStep in turn. Returns whether every updated
   * weight is finite.
   */
  sgdStepChecked(o: { params: Float32Array; grads: Float32Array; backup: Float32Array; lr: number; gradScale: number }): boolean;
  clipValue(x: Float32Array, c: number): void;
  /** PyTorch's SGD without momentum, with L2 weight decay: params -= lr * (grads + weightDecay * params). */
  sgdDecayStep(o: { params: Float32Array; grads: Float32Array; lr: number; weightDecay: number }): void;
  /** PyTorch's SGD with momentum (buf is the momentum buffer; first: the buffer starts as the gradient). */
  sgdMomentumStep(o: { params: Float32Array; buf: Float32Array; grads: Float32Array; lr: number; momentum: number;
    dampening: number; nesterov: boolean; weightDecay: number; first: boolean }): void;
  /** PyTorch's Adam (decoupled: AdamW); step counts from 1. */
  adamStep(o: { params: Float32Array; m: Float32Array; v: Float32Array; grads: Float32Array; lr: number; beta1: number;
    beta2: number; eps: number; weightDecay: number; step: number; decoupled: boolean }): void;
  /** PyTorch's RMSprop (not centered). */
  rmspropStep(o: { params: Float32Array; squareAvg: Float32Array; buf: Float32Array; grads: Float32Array; lr: number;
    alpha: number; eps: number; weightDecay: number; momentum: number }): void;
  /**
   * A whole model's training step over a batch (LmBatch), chunks on teams of
   * threads: grads += d(loss sum * scale)/d(params). masks: null, or the dropout
   * masks of layers 0..L-2 (T, N, H_l) one after another. Returns the loss sum.
   * gradSquares (not with keep): gets the sum of squares of grads after the
   * call, bitwise sumSquares(grads), added up by the threads that wrote them.
   */
  lmTrainChunks(o: LmBatch & { grads: Float32Array; masks: Float32Array | null; scale: number; keep?: boolean;
    gradSquares?: Float64Array | null }): number;
  /** The forward of lmTrainChunks alone (no dropout, no gradients): loss sum and argmax hits. */
  lmEvalChunks(o: LmBatch): { loss: number; correct: number };
  /**
   * How a batch of N windows in chunks of `rows` would run on `threads`
   * threads: `teams` teams of `size` threads each (see setTeamSize).
   */
  lmTeamPlan(o: { cell: CellKind; L: number; hidden: Int32Array; V: number; T: number; N: number; rows: number;
    train: boolean; threads: number }): { teams: number; size: number };
  /**
   * A time-major batch of windows: inputs[t, n] = tokens[starts[n] + t], targets[t, n] = tokens[starts[n] + t + 1]
   * for t < T and every start (each window of T + 1 tokens inside tokens).
   */
  fillBatch(o: { tokens: Uint16Array | Int32Array; starts: Int32Array; T: number; inputs: Int32Array; targets: Int32Array }): void;
  /**
   * Writes data to tmp, fsyncs it, renames it to target and fsyncs dir, on the thread pool.
   * Rejects with { errno (positive), syscall } after removing tmp (src/io/files.ts makes Node's Error of it).
   */
  writeFileAtomic(tmp: string, target: string, dir: string, data: Buffer): Promise<void>;
  /** For a pipe or socket: whether writing to fd can only fail (its reader has gone, it was closed): a poll, no write. */
  outputGone(fd: number): boolean;
  /**
   * This thread holds the lock file `file`, written as `text` (src/io/lock.ts): when the
   * thread's environment is torn down still holding it (a Worker terminated), the file is
   * removed if it still holds `text`.
   */
  lockHeld(file: string, text: string): void;
  /** The lock file `file` taken as `text` is released (a later taking of it, another text, stays held). */
  lockDropped(file: string, text: string): void;
  /** What MPI support the addon has (built: found at build time), and the library it opened, if any. */
  mpiInfo(): MpiInfo;
  /** Opens the MPI library (a path or soname; "" for the one found at build time) and initialises MPI, once per process. */
  mpiInit(library: string): MpiInfo;
  /** x becomes the sum of x over every rank, the same bits everywhere: each element added in rank order. */
  mpiSum(x: Float32Array | Float64Array): void;
  /**
   * x (the model's P floats) becomes the sum over the ranks of the chunk gradients the last
   * lmTrainChunks with keep left on this thread (none when kept is false): added in rank order
   * and chunk order, one process's order where the ranks hold whole chunks of its batch.
   */
  mpiChainSum(x: Float32Array, kept: boolean): void;
  mpiBarrier(): void;
  /** The process's last MPI call (nothing when MPI was never initialised). */
  mpiFinalize(): void;
  /** Ends every rank of the job with this exit code. */
  mpiAbort(code: number): void;
  /** One instruction set's GEMM: C (M, N) (+)= A (M, K) B (K, N), or C += A^T B with A (K, M) when transA. */
  _gemm(simd: string, transA: boolean, C: Float32Array, A: Float32Array, B: Float32Array,
    M: number, N: number, K: number, accumulate: boolean): void;
  /**
   * As _gemm (C (+)= A B), with B given in panels of 64 columns: columns [64p, 64p + w) as a (K, w)
   * row-major block at element 64pK, w = min(64, N - 64p); the layout the recurrent products of wide layers read.
   */
  _gemmPanels(simd: string, C: Float32Array, A: Float32Array, Bp: Float32Array, M: number, N: number, K: number,
    accumulate: boolean): void;
  /** One instruction set's generation GEMV: C (M, N) = A (M, K) B^T with B (N, K) read in place. */
  _gemmNt(simd: string, C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number): void;
  /**
   * One bf16 path's GEMM (avx512bf16, or a fp32 table's name for its fallback): C (M, N) (+)= op(A) B
   * with operands rounded to bf16 and float32 sums; packB: B packed into k-pairs first, as weights are.
   */
  _gemmBf16(path: string, transA: boolean, packB: boolean, C: Float32Array, A: Float32Array, B: Float32Array,
    M: number, N: number, K: number, accumulate: boolean): void;
  /** As _gemmBf16 with B packed first in panels of 64 columns (the recurrent products' W_hh^T of wide layers). */
  _gemmBf16Panels(path: string, C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number,
    accumulate: boolean): void;
  /** y = x rounded to bfloat16 (nearest, ties to even; NaN quiet, infinities kept) and back. */
  _bf16Round(y: Float32Array, x: Float32Array): void;
  /**
   * B (K, N) packed into k-pairs as the bf16 products read weights (bf16 of B[2kp, j] low, of B[2kp+1, j]
   * high, rows of ceil(N / 16) * 16 pairs); src is B, or B^T (N, K) when trans. out: the pairs' bits.
   */
  _bf16PackB(out: Int32Array, src: Float32Array, trans: boolean, K: number, N: number): void;
  /**
   * Whether weight gradients (C += A^T B) by short tiles (5 x 64, AVX2's 6 x 16) go across the
   * columns, the order before 2026-12-04, rather than down the rows: sets it, and returns the setting
   * before (DEEPRNN_TN_ACROSS=1 at start sets it). The same results either way: for measuring one order
   * against the other.
   */
  _gemmTnAcross(on: boolean): boolean;
  /** One instruction set's exp / sigmoid / tanh as the cells compute them. */
  _mathEval(simd: string, fn: 'exp' | 'sigmoid' | 'tanh', y: Float32Array, x: Float32Array): void;
}

/** The package's root folder (dist/ and src/ both sit one level below it). */
const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * Where the addon may be, in the order tried: DEEPRNN_ADDON alone when it is
 * set (another build, e.g. without OpenMP, for testing); else the build from
 * source (build/Release, made by a checkout's install or by a build from
 * source), then the prebuilt addon the package ships for this platform.
 */
export function addonCandidates(): string[] {
  if (process.env.DEEPRNN_ADDON) return [path.resolve(process.env.DEEPRNN_ADDON)];
  return [
    path.join(packageRoot, 'build', 'Release', 'deeprnn.node'),
    path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'deeprnn.node'),
  ];
}

let binding: NativeBinding | undefined;
let loadedFrom: string | undefined;

/** Where the addon is loaded from (or, before it is, where it would be). */
export function addonFile(): string {
  const candidates = addonCandidates();
  return loadedFrom ?? candidates.find((f) => existsSync(f)) ?? candidates[0]!;
}

/** The native addon, loaded on first use. */
export function native(): NativeBinding {
  if (binding) return binding;
  const candidates = addonCandidates();
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    throw new Error(process.env.DEEPRNN_ADDON
      ? `deeprnn: the native addon is missing at ${candidates[0]} (named by DEEPRNN_ADDON); build it there or unset DEEPRNN_ADDON`
      : `deeprnn: the native addon is missing: neither ${candidates[0]} nor a prebuilt ${candidates[1]} exists; `
        + `build it with "npm run build:native" in a checkout, or "DEEPRNN_BUILD_FROM_SOURCE=1 npm rebuild deeprnn" `
        + 'where deeprnn is installed (needs cmake and a C++17 compiler; where npm skipped deeprnn\'s install script, '
        + 'allow it first: "npm approve-scripts deeprnn", or for a global install "npm install -g deeprnn --allow-scripts=deeprnn")');
  }
  const require = createRequire(import.meta.url);
  // OpenMP reads its variables as the addon loads, and writes a line of its
  // own about each it cannot parse: those are hidden from it for the load
  // (chooseThreads says what deeprnn makes of them) and put back for children.
  // (Only the main thread's process.env is the process's environment: a
  // worker's is a copy, so the CLI loads the addon here before it starts one.)
  const saved = unparsableOpenMp().map((name) => [name, process.env[name]!] as const);
  for (const [name] of saved) delete process.env[name];
  try {
    binding = require(file) as NativeBinding;
  } catch (e) {
    throw new Error(`deeprnn: the native addon ${file} does not load (${(e as Error).message.split('\n')[0]}); `
      + 'rebuild it for this machine with "DEEPRNN_BUILD_FROM_SOURCE=1 npm rebuild deeprnn" where deeprnn is installed, '
      + 'or "npm run build:native" in a checkout (needs cmake and a C++17 compiler; where npm skipped deeprnn\'s install '
      + 'script, allow it first: "npm approve-scripts deeprnn", or for a global install "npm install -g deeprnn --allow-scripts=deeprnn")');
  } finally {
    for (const [name, value] of saved) process.env[name] = value;
  }
  loadedFrom = file;
  // Never more threads than the cores this process may use (OMP_NUM_THREADS or
  // OpenMP's own count may say more); the CLI says so when it caps a request.
  binding.setThreads(chooseThreads().threads);
  return binding;
}
