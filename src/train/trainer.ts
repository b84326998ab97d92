// Trainer: the book's loop. Per batch: zero gradients, forward (mean loss),
// backward, clip the global gradient norm, optimizer step. Per epoch: train
// and validation perplexity. Its whole position (epoch, batch, generator
// states, partial sums) is a TrainState, so a run stopped between any two
// batches continues exactly.
import type { Batch, DataModule } from '../data/datamodule.js';
import type { LanguageModel } from '../nn/lm.js';
import { Rng, checkRngState, type RngState } from '../rng.js';
import { clampInPlace, copyInto, scaleInPlace, sumSquares } from './ops.js';
import type { Optimizer } from './optim.js';
import type { World } from '../mpi.js';
import { InputError } from '../errors.js';
import { native } from '../native.js';
import { describe, flagName, refuseUnknownKeys } from '../validate.js';
import { chooseThreads } from '../threads.js';

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
  /** Updates skipped this epoch because the loss or gradient was not finite (--skip-nonfinite). */
  skipped: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Mean global gradient norm before clipping over the epoch's steps. */
  gradNorm: number;
}

/** Where a run is: enough to continue it bit for bit. */
export interface TrainState {
  /** Epochs completed. */
  epoch: number;
  /** Batches completed of the next epoch (0 between epochs). */
  batch: number;
  /** Optimizer steps taken in all. */
  step: number;
  /** Generator state at the start of the current epoch (it draws the epoch's order). */
  rngEpoch: RngState;
  /** Generator state now. */
  rng: RngState;
  /** Sums of the current epoch so far. */
  lossSum: number;
  tokens: number;
  seconds: number;
  skipped: number;
  /** Sum of the epoch's gradient norms before clipping. */
  gradNormSum: number;
}

/** The keys of TrainerOptions (the type lists each once: none missing, none extra). */
const TRAINER_OPTIONS = Object.keys({
  epochs: true, clip: true, clipMode: true, schedule: true, earlyStop: true, skipNonFinite: true, onEpoch: true, onBatch: true, world: true, settle: true,
  optionName: true, threads: true,
} satisfies Record<keyof TrainerOptions, true>);

export interface TrainerOptions {
  epochs: number;
  /** Clipping threshold; 0 or Infinity turns clipping off. */
  clip: number;
  /** norm (default): rescale all gradients to a global L2 norm of at most clip (the book's); value: clamp each to [-clip, clip] (char-rnn's). */
  clipMode?: 'norm' | 'value';
  /** The learning rate of each step from the step count and the completed epochs. */
  schedule?: (step: number, epochs: number) => number;
  /** Stop when the validation perplexity has not improved for this many epochs. */
  earlyStop?: number;
  /** Skip (and count) updates whose loss or gradient is not finite, instead of stopping. */
  skipNonFinite?: boolean;
  /**
   * How a divergence's advice names the options (lr, clip, skipNonFinite):
   * the command line's by default (--lr); the library's train() names its own (lr).
   */
  optionName?: (key: 'lr' | 'clip' | 'skipNonFinite') => string;
  onEpoch?: (m: EpochMetrics) => void;
  /** After each training batch: batches done and in all, its loss, training tokens and seconds of training so far this epoch. */
  onBatch?: (done: number, total: number, loss: number, tokens: number, seconds: number) => void;
  /**
   * Data-parallel: this process is one rank of `world`. Each batch's windows
   * are shared out (shardRange), the gradients and losses summed over the
   * ranks (in rank order), and every rank takes the same step; a stop asked of
   * any rank stops every rank after the same batch.
   */
  world?: World | null;
  /**
   * After each batch's and epoch's hooks: what the loop waits for before it
   * goes on, if anything (the run's background checkpoint writes, so that they
   * cannot fall behind without bound).
   */
  settle?: () => Promise<void> | undefined;
  /**
   * The thread count of this run's batches and validation, set before each of
   * them: runs in one process may overlap (the loop awaits between batches) and
   * the count is the process's. Absent: whatever the process's count is.
   */
  threads?: number;
}

/** The models a fit() or fitEpoch() is training now. */
const fitting = new WeakSet<LanguageModel>();

const hasFns = (o: unknown, fns: string[]) => typeof o === 'object' && o !== null && fns.every((k) => typeof (o as Record<string, unknown>)[k] === 'function');

/** Refuses, naming it, a model argument that is no model (before, a TypeError inside). `call`: how the message names the call. */
export function checkModelArg(model: unknown, call: string): void {
  if (!hasFns(model, ['forward', 'backward', 'evaluate', 'zeroGrad', 'resetState'])) {
    throw new InputError(`${call} needs a model (an RNNLM or RNNLMScratch), got ${describe(model)}`);
  }
}

function checkDataArg(data: unknown, call: string): void {
  if (!hasFns(data, ['trainBatches', 'valBatches']) || typeof (data as DataModule).numTrainBatches !== 'number') {
    throw new InputError(`${call} needs a DataModule (WindowDataModule, SequentialDataModule or makeDataModule's), got ${describe(data)}`);
  }
}

function checkOptimizerArg(optimizer: unknown, call: string): void {
  if (!hasFns(optimizer, ['step'])) throw new InputError(`${call} needs an Optimizer (SGD, Adam, RMSprop or makeOptimizer's), got ${describe(optimizer)}`);
}

/** Refuses, naming it, an argument of fit() or fitEpoch() that is not what it should be (before, a TypeError inside). */
function checkFitArgs(model: unknown, data: unknown, optimizer: unknown, rng: unknown, fn = 'fit'): void {
  checkModelArg(model, `${fn}(model, ...)`);
  checkDataArg(data, `${fn}(model, data, ...)`);
  checkOptimizerArg(optimizer, `${fn}(model, data, optimizer, ...)`);
  // (by its methods, as checkRng does: an Rng of another copy of the package is one)
  if (!hasFns(rng, ['uniform', 'state', 'nextU32', 'below', 'shuffle'])) throw new InputError(`${fn}(model, data, optimizer, rng) needs an Rng, got ${describe(rng)}`);
}

/** Refuses a world that is no World (before, fit failed in the addon: \`option "N" must be an integer ..., got NaN\`). */
export function checkWorld(world: unknown): void {
  const w = world as Record<string, unknown>;
  const ok = typeof world === 'object' && Number.isSafeInteger(w.rank) && Number.isSafeInteger(w.size) && (w.size as number) >= 1
    && (w.rank as number) >= 0 && (w.rank as number) < (w.size as number) && ['sum', 'sumChunks', 'barrier'].every((k) => typeof w[k] === 'function');
  if (!ok) throw new InputError(`world must be a World (mpiWorld()'s: rank, size, sum, sumChunks, barrier) or null, got ${describe(world)}`);
}

/** Training stopped because the loss or the gradient was not finite. */
export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Between batches the loop yields to the event loop (signals, messages, the
 * background writes and the hooks queued behind them) once this many
 * milliseconds have passed since it last did, not after every batch: a turn of
 * the event loop after a native step of milliseconds cost 0.07-0.15 ms on the
 * development machine, about 1% of a 2-thread step of the book's batch and
 * several percent of a 16-thread one.
 */
export const YIELD_MS = 20;

/**
 * The runs (train() calls, fit()s and fitEpoch()s) going on in this process, and the
 * process's thread count outside them: recorded when the first begins, put
 * back when the last ends; work without a count of its own runs at it (runs
 * in one process may overlap, and the count is the process's).
 */
const runs = { count: 0, outside: 1 };

/** A run begins (see `runs`); returns its end, to call once. */
export function beginThreadedRun(): () => void {
  if (runs.count++ === 0) runs.outside = native().info().threads;
  return () => {
    if (--runs.count === 0) native().setThreads(runs.outside);
  };
}

/** The process's thread count outside the runs going on (its count now when none is). */
export function outsideThreads(): number {
  return runs.count > 0 ? runs.outside : native().info().threads;
}

/** The keys of TrainState. */
const STATE_KEYS = Object.keys({
  epoch: true, batch: true, step: true, rngEpoch: true, rng: true, lossSum: true, tokens: true, seconds: true, skipped: true, gradNormSum: true,
} satisfies Record<keyof TrainState, true>);

/** Refuses, naming what is wrong, a state that is no TrainState (before, {} trained nothing and a negative epoch trained extra epochs). */
export function checkTrainState(state: unknown, fn = 'fit'): asserts state is TrainState {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new InputError(`${fn}(model, data, optimizer, rng, state): state must be a TrainState (initialState(rng), or a checkpoint's), got ${describe(state)}`);
  }
  const st = state as Record<string, unknown>;
  const missing = STATE_KEYS.filter((k) => st[k] === undefined);
  if (missing.length) throw new InputError(`${fn}(..., state): state lacks ${missing.join(', ')} (make one with initialState(rng))`);
  for (const k of ['epoch', 'batch', 'step', 'skipped'] as const) {
    if (!Number.isSafeInteger(st[k]) || (st[k] as number) < 0) throw new InputError(`${fn}(..., state): state.${k} must be a whole number of 0 or more, got ${describe(st[k])}`);
  }
  for (const k of ['lossSum', 'tokens', 'seconds'] as const) {
    if (typeof st[k] !== 'number' || !Number.isFinite(st[k])) throw new InputError(`${fn}(..., state): state.${k} must be a finite number, got ${describe(st[k])}`);
  }
  // (NaN: not known, as a checkpoint that stored null for it says)
  if (typeof st.gradNormSum !== 'number') throw new InputError(`${fn}(..., state): state.gradNormSum must be a number, got ${describe(st.gradNormSum)}`);
  for (const k of ['rngEpoch', 'rng'] as const) checkRngState(st[k], `${fn}(..., state): state.${k}`);
}

/** checkTrainState, and a state within the data's epoch (before, a batch past its end trained nothing and reported a divergence). */
function checkStateFits(state: unknown, data: DataModule, fn: string): asserts state is TrainState {
  checkTrainState(state, fn);
  if (state.batch > data.numTrainBatches) {
    throw new InputError(`${fn}(..., state): state.batch is ${state.batch}, past the ${data.numTrainBatches} training batches of an epoch of this data`);
  }
}

export function initialState(rng: Rng): TrainState {
  return { epoch: 0, batch: 0, step: 0, rngEpoch: rng.state(), rng: rng.state(), lossSum: 0, tokens: 0, seconds: 0, skipped: 0, gradNormSum: 0 };
}

/** Seconds a Trainer has spent, summed over its fit() calls (see RunTimings). */
export interface TrainerTimes {
  /** Training steps: forward, backward, clipping and the update. */
  steps: number;
  /** Validation. */
  validation: number;
  /** Waiting for earlier checkpoint writes to end (opts.settle). */
  waits: number;
}

export class Trainer {
  readonly history: EpochMetrics[] = [];
  readonly times: TrainerTimes = { steps: 0, validation: 0, waits: 0 };
  private stopRequested = false;
  private backup: Float32Array | Float64Array | null = null;

  /** A copy of the options given: a change to the caller's object afterwards is not read (unchecked). */
  readonly opts: TrainerOptions;

  constructor(opts: TrainerOptions) {
    if (typeof opts !== 'object' || opts === null) throw new InputError(`new Trainer(opts) needs options { epochs, clip, ... }, got ${describe(opts)}`);
    refuseUnknownKeys(opts, TRAINER_OPTIONS, 'new Trainer(opts)');
    // (a copy, made once a Map is refused: before, the caller's object itself was kept, and earlyStop set to -1
    // after the checks ended a run after one epoch)
    opts = { ...opts };
    if (!Number.isSafeInteger(opts.epochs) || opts.epochs < 0) throw new InputError(`epochs must be a whole number of 0 or more, got ${describe(opts.epochs)}`);
    if (typeof opts.clip !== 'number' || !(opts.clip >= 0)) throw new InputError(`clip must be a number of 0 or more (0 or Infinity: off), got ${describe(opts.clip)}`);
    if (opts.clipMode !== undefined && opts.clipMode !== 'norm' && opts.clipMode !== 'value') {
      throw new InputError(`clipMode must be norm or value, got ${JSON.stringify(opts.clipMode)}`);
    }
    if (opts.threads !== undefined && !(Number.isSafeInteger(opts.threads) && opts.threads >= 1 && opts.threads <= 1024)) {
      throw new InputError(`threads must be a whole number from 1 to 1024, got ${describe(opts.threads)}`);
    }
    if (opts.earlyStop !== undefined && !(Number.isSafeInteger(opts.earlyStop) && opts.earlyStop >= 1)) {
      // (before, -1 or 'x' ended every run after its first epoch, reported as an early stop)
      throw new InputError(`earlyStop must be a whole number of epochs from 1, got ${describe(opts.earlyStop)}`);
    }
    if (opts.skipNonFinite !== undefined && typeof opts.skipNonFinite !== 'boolean') {
      // (before, 'false' was taken as true: a diverging run skipped its batches)
      throw new InputError(`skipNonFinite must be true or false, got ${describe(opts.skipNonFinite)}`);
    }
    if (opts.world !== undefined && opts.world !== null) checkWorld(opts.world);
    for (const hook of ['onEpoch', 'onBatch', 'settle', 'optionName', 'schedule'] as const) {
      if (opts[hook] !== undefined && typeof opts[hook] !== 'function') throw new InputError(`${hook} must be a function, got ${describe(opts[hook])}`);
    }
    if (opts.threads !== undefined) {
      // At most the cores this process may use, as train() and --threads (before, threads: 64 started 64 on 2 cores);
      // said only when the count is cut (train() and the command line pass one already chosen and said).
      const choice = chooseThreads(opts.threads);
      if (choice.threads !== opts.threads && choice.note) process.stderr.write(`deeprnn: warning: ${choice.note.replace(/^--threads/, 'threads')}\n`);
      this.threads = choice.threads;
    }
    this.opts = opts;
  }

  /** opts.threads within the cores (undefined: none asked). */
  private readonly threads: number | undefined;

  /** The run's thread count for the work that follows (see TrainerOptions.threads): its own, else the process's outside every run. */
  private holdThreads(): void {
    native().setThreads(this.threads ?? runs.outside);
  }

  /** Data-parallel: a stop every rank knows of (summed with the gradients of a batch), so that all stop after the same batch. */
  private stopAgreed = false;
  /** Sums of one step over the ranks: the loss, the stop requests, those of them made by SIGINT and by SIGTERM. */
  private readonly stepSums = new Float64Array(4);
  /** What asked for the stop here: a signal's name, or a plain stop(). */
  private stopBy: 'SIGINT' | 'SIGTERM' | null = null;
  /**
   * The signal that stopped the run, as every rank learns it: SIGTERM when any
   * rank's stop came from one, else SIGINT when any came from one, else null.
   */
  stopSignal: 'SIGINT' | 'SIGTERM' | null = null;

  /** A flag another thread sets to stop the run (see watchStop). */
  private stopFlag: Int32Array | null = null;

  /**
   * Stops the run after the batch in which another thread sets flag[0] (with
   * Atomics.store): 1 for SIGINT, 2 for SIGTERM, any other non-zero value for a
   * plain stop. Read after every batch, so a stop needs no turn of this
   * thread's event loop (which runs only every YIELD_MS).
   */
  watchStop(flag: Int32Array): void {
    if (!(flag instanceof Int32Array) || !(flag.buffer instanceof SharedArrayBuffer) || flag.length < 1) {
      throw new InputError('watchStop needs an Int32Array of at least one element on a SharedArrayBuffer');
    }
    this.stopFlag = flag;
  }

  private pollStopFlag(): void {
    const flag = this.stopFlag ? Atomics.load(this.stopFlag, 0) : 0;
    if (flag !== 0) this.stop(flag === 1 ? 'SIGINT' : flag === 2 ? 'SIGTERM' : null);
  }

  /** Asks the loop to stop after the current batch; fit() then resolves with stopped = true. `signal`: what asked (stopSignal). */
  stop(signal: 'SIGINT' | 'SIGTERM' | null = null): void {
    this.stopRequested = true;
    this.stopBy ??= signal;
    if (!this.opts.world) this.stopSignal ??= signal;
  }

  /** The loop stops: asked here, or (data-parallel) asked of any rank by the last batch's sums. */
  private get stopping(): boolean {
    return this.opts.world ? this.stopAgreed : this.stopRequested;
  }

  /**
   * Trains until opts.epochs epochs are complete, from `state` (a fresh run, or
   * one loaded from a checkpoint, with `rng` at state.rng). The event loop runs
   * between batches, every YIELD_MS, and at the end of every epoch. `state` is
   * updated in place after every batch.
   */
  async fit(model: LanguageModel, data: DataModule, optimizer: Optimizer, rng: Rng, state?: TrainState): Promise<{ stopped: boolean; early?: boolean }> {
    checkFitArgs(model, data, optimizer, rng);
    if (fitting.has(model)) throw new InputError('fit(model, ...): this model is being trained by another fit() or fitEpoch() that has not ended (two at once would interleave their updates)');
    this.refuseSecondRun('fit');
    if (state !== undefined) checkStateFits(state, data, 'fit');
    fitting.add(model);
    this.running = true;
    // The process's count outside every run: a fit without threads runs at it, and it is put back when the last ends.
    const end = beginThreadedRun();
    // A stop asked before this fit holds for it; the signal of an earlier fit's stop does not.
    if (!this.stopRequested && !this.stopAgreed) this.stopSignal = null;
    try {
      return await this.fitEpochs(model, data, optimizer, rng, state ?? initialState(rng));
    } finally {
      // A stop asked of this fit ends with it, whether it stopped it or came after its last batch: a later fit()
      // goes on (before, every later one stopped after a batch). (stopSignal keeps what stopped this one.)
      this.consumeStop();
      fitting.delete(model);
      this.running = false;
      end();
    }
  }

  /** Whether a fit() or fitEpoch() of this trainer has not ended. */
  private running = false;

  /**
   * One run at a time: a trainer's history, early stop, stop and times are one
   * run's (before, two fit()s of two models at once each read the other's
   * epochs for its early stop).
   */
  private refuseSecondRun(what: 'fit' | 'fitEpoch'): void {
    if (this.running) {
      throw new InputError(`${what}(...): this Trainer is running a fit() or fitEpoch() that has not ended; its history, early stop and stop `
        + 'are one run\'s: give each run at once a Trainer of its own');
    }
  }

  /** Forgets the stop asked (stopSignal keeps what it was, for the caller to read). */
  private consumeStop(): void {
    this.stopRequested = false;
    this.stopAgreed = false;
    this.stopBy = null;
  }

  private async fitEpochs(model: LanguageModel, data: DataModule, optimizer: Optimizer, rng: Rng, state: TrainState): Promise<{ stopped: boolean; early?: boolean }> {
    // The history of this run: a trainer that fit another model (or this one from the start) before keeps that
    // run's epochs first, and they are no part of this one's early stop (before, they stopped it before it began).
    // Its last state.epoch entries are this run's when they end at its epoch and were recorded for this model
    // (or given by the caller before any fit, as a resumed run's are).
    const last = this.history[this.history.length - 1];
    const same = this.lastModel === null || this.lastModel.deref() === model;
    this.historyFrom = last !== undefined && last.epoch === state.epoch && same ? Math.max(0, this.history.length - state.epoch) : this.history.length;
    this.lastModel = new WeakRef(model);
    // A resumed run whose history already meets the early stop ended there (before, it trained another epoch).
    if (state.batch === 0 && state.epoch < this.opts.epochs && this.shouldStopEarly()) return { stopped: false, early: true };
    while (state.epoch < this.opts.epochs) {
      const m = await this.runEpoch(model, data, optimizer, rng, state);
      if (!m) return { stopped: true };
      this.history.push(m);
      // A copy: what the hook does with it changes neither the history nor the run.
      this.opts.onEpoch?.({ ...m });
      const waited = performance.now();
      await this.opts.settle?.();
      this.times.waits += (performance.now() - waited) / 1000;
      this.pollStopFlag();  // a stop asked during validation ends the run here, not a batch into the next epoch
      // (after the last epoch, or the one that meets the early stop, the run is complete: nothing
      // was cut short; before, a stop asked during that one's validation lost the early stop)
      // (the last epoch's no better than those before cuts nothing short: no early stop)
      if (state.epoch < this.opts.epochs && this.shouldStopEarly()) return { stopped: false, early: true };
      if (this.stopping && state.epoch < this.opts.epochs) return { stopped: true };
    }
    return { stopped: false };
  }

  /**
   * The learning rate an epoch's metrics record: the rate of its last batch,
   * as the optimizer holds it, or, under a schedule, when this call ran none
   * of its batches (a run resumed from a checkpoint of the epoch's last batch
   * goes straight to the validation), that rate made again from the schedule:
   * its last step's, or the one its batches had when every one was skipped
   * (before, the base rate, where the run not stopped recorded the scheduled one).
   */
  private epochLr(optimizer: Optimizer, state: TrainState, total: number, ran: number): number {
    if (!this.opts.schedule || ran > 0) return optimizer.lr;
    return this.scheduled(total - state.skipped > 0 ? Math.max(0, state.step - 1) : state.step, state.epoch);
  }

  /** The schedule's learning rate for a step, refused by name when it is no finite number of 0 or more (before: gradient ascent, or the addon's error). */
  private scheduled(step: number, epochs: number): number {
    const lr = this.opts.schedule!(step, epochs);
    if (typeof lr !== 'number' || !(lr >= 0 && lr < Infinity)) {
      throw new InputError(`schedule(${step}, ${epochs}) returned ${describe(lr)}: a learning rate must be a finite number of 0 or more`);
    }
    return lr;
  }

  /** How the advice names an option: as the caller says, else as the command line does. */
  private get optionName(): (key: 'lr' | 'clip' | 'skipNonFinite') => string {
    return this.opts.optionName ?? flagName;
  }

  /** What to try after a divergence: a smaller clip, or clipping at all when it is off (0 or Infinity). */
  private advice(): string {
    const off = this.opts.clip === 0 || this.opts.clip === Infinity;
    const n = this.optionName;
    return off ? `try a lower ${n('lr')} or gradient clipping, ${n('clip')} 1` : `try a lower ${n('lr')} or a smaller ${n('clip')}`;
  }

  /** Where the history of the last fit()'s run begins (see fitEpochs). */
  private historyFrom = 0;
  /** The model of the last fit() (null before any). */
  private lastModel: WeakRef<LanguageModel> | null = null;

  /** No improvement of the validation perplexity over the last opts.earlyStop epochs of the last fit()'s run. */
  shouldStopEarly(): boolean {
    const p = this.opts.earlyStop;
    const h = this.history.slice(this.historyFrom);
    if (!p || h.length <= p) return false;
    // A loop, not Math.min(...h): a spread of a long history overflows the call stack.
    let best = Infinity;
    for (const m of h) best = Math.min(best, m.valPpl);
    let recent = Infinity;
    for (let i = h.length - p; i < h.length; i++) recent = Math.min(recent, h[i]!.valPpl);
    return recent > best;
  }

  /**
   * Runs the rest of the current epoch; returns its metrics, or null when
   * stopped part-way. A run of its own, as a fit() is: at the trainer's
   * `threads`, else the process's count outside every run, which is put back
   * when the last run ends (before, one called on its own ran at the count
   * an earlier run had found, 1 before any, and left the process there).
   */
  async fitEpoch(model: LanguageModel, data: DataModule, optimizer: Optimizer, rng: Rng, state: TrainState): Promise<EpochMetrics | null> {
    checkFitArgs(model, data, optimizer, rng, 'fitEpoch');
    if (fitting.has(model)) throw new InputError('fitEpoch(model, ...): this model is being trained by a fit() or fitEpoch() that has not ended (two at once would interleave their updates)');
    this.refuseSecondRun('fitEpoch');
    checkStateFits(state, data, 'fitEpoch');
    fitting.add(model);
    this.running = true;
    const end = beginThreadedRun();
    if (!this.stopRequested && !this.stopAgreed) this.stopSignal = null;
    let ended = true;
    try {
      const m = await this.runEpoch(model, data, optimizer, rng, state);
      ended = m === null;
      return m;
    } finally {
      // A stop that ended this epoch (or a failure) ends with it: a later fitEpoch() or fit() goes on (before,
      // each stopped after one batch). One asked too late to cut the epoch short holds for the next, as a stop
      // asked before a fit() holds for it: the caller's loop over the epochs is the run.
      if (ended) this.consumeStop();
      fitting.delete(model);
      this.running = false;
      end();
    }
  }

  private async runEpoch(model: LanguageModel, data: DataModule, optimizer: Optimizer, rng: Rng, state: TrainState): Promise<EpochMetrics | null> {
    const epoch = state.epoch + 1;
    if (state.batch === 0) {
      state.rngEpoch = rng.state();
      Object.assign(state, { lossSum: 0, tokens: 0, seconds: 0, skipped: 0, gradNormSum: 0 });
      model.resetState();
    }
    // The epoch's order comes from the generator as it was at the epoch's start.
    const order = state.batch === 0 ? rng : Rng.fromState(state.rngEpoch);
    const total = data.numTrainBatches;
    let last = performance.now();
    let yielded = last;
    let ran = 0;  // batches run by this call
    for (const batch of data.trainBatches(order, state.batch)) {
      ran++;
      this.holdThreads();
      if (this.opts.schedule) optimizer.lr = this.scheduled(state.step, state.epoch);
      const began = performance.now();
      const { loss, bad, norm } = this.step(model, batch, optimizer, rng, data.carry);
      this.times.steps += (performance.now() - began) / 1000;
      if (bad) {
        if (!this.opts.skipNonFinite) {
          throw new NonFiniteError(
            `${bad} became non-finite in epoch ${epoch}, batch ${state.batch + 1}; ${this.advice()} (or ${this.optionName('skipNonFinite')})`,
          );
        }
        state.skipped++;
      } else {
        state.step++;
        state.gradNormSum += norm;
      }
      // The epoch's training loss is over every batch whose loss is finite, skipped
      // updates included: it measured the weights as they were.
      if (Number.isFinite(loss)) {
        const n = batch.T * batch.N;
        state.lossSum += loss * n;
        state.tokens += n;
      }
      state.batch++;
      state.rng = rng.state();
      const now = performance.now();
      state.seconds += (now - last) / 1000;
      this.opts.onBatch?.(state.batch, total, loss, state.tokens, state.seconds);
      this.pollStopFlag();
      // (an await even of nothing costs a turn of the microtask queue)
      const settling = this.opts.settle?.();
      if (settling) {
        const waited = performance.now();
        await settling;
        this.times.waits += (performance.now() - waited) / 1000;
      }
      if (now - yielded >= YIELD_MS) {
        await tick();
        yielded = performance.now();
      }
      last = performance.now();
      if (this.stopping && state.batch < total) return null;
    }
    const start = performance.now();
    this.holdThreads();
    const val = this.validate(model, data);
    this.times.validation += (performance.now() - start) / 1000;
    const trainLoss = state.lossSum / state.tokens;
    // A perplexity that overflows a double is divergence, as a non-finite loss is:
    // the run stops, and no history, metrics file or checkpoint holds a non-number.
    for (const [what, loss] of [['training', trainLoss], ['validation', val.loss]] as const) {
      if (Number.isFinite(Math.exp(loss))) continue;
      const why = Number.isNaN(loss) ? `no ${what} batch had a finite loss` : `the ${what} perplexity overflows (mean loss ${loss.toPrecision(6)})`;
      throw new NonFiniteError(`training diverged in epoch ${epoch}: ${why}; ${this.advice()}`);
    }
    const m: EpochMetrics = {
      epoch,
      trainLoss,
      trainPpl: Math.exp(trainLoss),
      valLoss: val.loss,
      valPpl: Math.exp(val.loss),
      valAcc: val.accuracy,
      tokensPerSec: state.seconds > 0 ? state.tokens / state.seconds : 0,
      seconds: state.seconds + (performance.now() - start) / 1000,
      skipped: state.skipped,
      lr: this.epochLr(optimizer, state, total, ran),
      gradNorm: state.gradNormSum / Math.max(1, total - state.skipped),
    };
    state.epoch = epoch;
    state.batch = 0;
    state.rngEpoch = rng.state();
    Object.assign(state, { lossSum: 0, tokens: 0, seconds: 0, skipped: 0, gradNormSum: 0 });
    return m;
  }

  /**
   * One update: forward, backward, clipping, optimizer step. When the loss, the
   * gradient or the updated weights are not finite it says which, and the
   * weights are left as they were.
   */
  private step(model: LanguageModel, batch: Batch, optimizer: Optimizer, rng: Rng, carry: boolean): { loss: number; bad: string | null; norm: number } {
    model.zeroGrad();
    const { world } = this.opts;
    let loss: number;
    if (world) {
      // Every rank draws the whole batch's dropout masks (the generator stays the
      // same on every rank) and computes its share; the sums make the batch's.
      const part = model.forward(batch, { train: true, rng, carry, shard: world });
      model.backward();
      this.stepSums[0] = part;
      this.stepSums[1] = this.stopRequested ? 1 : 0;
      this.stepSums[2] = this.stopBy === 'SIGINT' ? 1 : 0;
      this.stepSums[3] = this.stopBy === 'SIGTERM' ? 1 : 0;
      world.sum(this.stepSums);
      world.sumChunks(model.grads as Float32Array, model.keptChunks ?? false);
      if (carry) world.sum(model.stateBuffer!(batch.N));
      loss = this.stepSums[0];
      if (this.stepSums[1] > 0) {
        this.stopAgreed = true;
        this.stopSignal = this.stepSums[3] > 0 ? 'SIGTERM' : this.stepSums[2] > 0 ? 'SIGINT' : null;
      }
      if (!Number.isFinite(loss)) return { loss, bad: 'the loss', norm: NaN };
    } else {
      loss = model.forward(batch, { train: true, rng, carry });
      if (!Number.isFinite(loss)) return { loss, bad: 'the loss', norm: NaN };
      model.backward();
    }
    return { loss, ...this.update(model, optimizer) };
  }

  /**
   * The update after a model's training step (forward and backward, grads
   * untouched since): clip the gradients, take one optimizer step, and undo it
   * when a weight is not finite. Returns the global gradient norm before
   * clipping, and what was not finite (the weights are then as they were).
   */
  update(model: LanguageModel, optimizer: Optimizer): { bad: 'the gradient' | 'the weights' | null; norm: number } {
    checkModelArg(model, 'update(model, ...)');
    checkOptimizerArg(optimizer, 'update(model, optimizer)');
    // The model's own sum of squares, from the step just taken.
    const { norm, scale } = this.clipPlan(model, true);
    if (!Number.isFinite(norm)) return { bad: 'the gradient', norm };
    // (a trainer that fits another model later gets a backup of that one's size and kind)
    if (this.backup?.length !== model.params.length || this.backup.constructor !== model.params.constructor) this.backup = model.params.slice();
    const backup = this.backup;
    // Clipping, the backup, the update and its check in one pass where the optimizer has one (plain SGD), else in turn.
    let finite = optimizer.stepChecked?.(model.params, model.grads, backup, scale) ?? null;
    if (finite === null) {
      if (scale !== 1) scaleInPlace(model.grads, scale);
      copyInto(backup, model.params);
      optimizer.step(model.params, model.grads);
      finite = Number.isFinite(sumSquares(model.params));
    }
    if (!finite) {
      model.params.set(backup);
      return { bad: 'the weights', norm };
    }
    return { bad: null, norm };
  }

  /**
   * Mean loss and accuracy over every validation token (sequential data: from
   * a zero state, carried). The training's carried state is left as it was
   * (before, a validate() between batches of sequential data changed the
   * training that followed).
   */
  validate(model: LanguageModel, data: DataModule): { loss: number; accuracy: number } {
    checkModelArg(model, 'validate(model, ...)');
    checkDataArg(data, 'validate(model, data)');
    let lossSum = 0;
    let correct = 0;
    let count = 0;
    // (raw, in the model's precision: a float32 copy rounded a float64 model's state, and a state that
    // had overflowed under skipNonFinite could not be set back; the next epoch resets it anyway)
    const putBack = data.carry ? model.keepCarriedState?.() : undefined;
    model.resetState();
    const { world } = this.opts;
    try {
      for (const batch of data.valBatches()) {
        const r = model.evaluate(batch, { carry: data.carry, shard: world ?? undefined });
        lossSum += r.lossSum;
        correct += r.correct;
        count += r.count;
      }
    } finally {
      putBack?.();
    }
    if (world) {
      // Each rank scored its share of every batch: one sum at the end.
      const sums = Float64Array.of(lossSum, correct, count);
      world.sum(sums);
      [lossSum, correct, count] = [sums[0]!, sums[1]!, sums[2]!];
    }
    return { loss: lossSum / count, accuracy: correct / count };
  }

  /**
   * Clips the gradients (global norm at most opts.clip, or each value within
   * [-clip, clip] in value mode); returns the global norm before clipping.
   */
  clipGradients(model: LanguageModel): number {
    checkModelArg(model, 'clipGradients(model)');
    // (grads as they are now: a caller may have changed them since the step, clipped them already)
    const { norm, scale } = this.clipPlan(model, false);
    if (scale !== 1) scaleInPlace(model.grads, scale);
    // (the model's sum of squares is of the grads before: an update() after this one reads them anew;
    // before, it clipped them a second time by the old norm)
    model.gradsChanged?.();
    return norm;
  }

  /**
   * The global gradient norm before clipping, and the factor that norm
   * clipping scales the gradients by (1: none). Value clipping clamps them
   * here. fromStep: right after the model's training step, whose sum of
   * squares (gradSquares) is of the grads as they are.
   */
  private clipPlan(model: LanguageModel, fromStep: boolean): { norm: number; scale: number } {
    // Data-parallel, the grads are the ranks' sum: the model's own figure is of its share.
    const known = fromStep && !this.opts.world ? (model.gradSquares?.() ?? null) : null;
    const norm = Math.sqrt(known ?? sumSquares(model.grads));
    const { clip } = this.opts;
    if (!(clip > 0 && Number.isFinite(clip)) || !Number.isFinite(norm)) return { norm, scale: 1 };
    if (this.opts.clipMode === 'value') {
      clampInPlace(model.grads, clip);
      return { norm, scale: 1 };
    }
    return { norm, scale: norm > clip ? clip / norm : 1 };
  }

}
