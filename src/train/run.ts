// One training run from settings to checkpoints: load the corpus (files, or
// texts in memory), build the data, the model and the trainer (or take them
// from a checkpoint to resume, or the model from one to fine-tune), train, and
// save on the schedule asked for. The CLI, the library's train() and the
// regression tests all call this.
import { existsSync, lstatSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { corpusRegistry, resolveDataDir, type LineEnds } from '../data/corpus.js';
import { makeDataModule, type DataModule } from '../data/datamodule.js';
import { loadCorpusTokens, loadTextTokens, type LoadedCorpus } from '../data/load.js';
import type { Tokenizer, TokenizerKind } from '../data/tokenizer.js';
import {
  checkpointHeaderBound, encodeCheckpoint, FORMAT_VERSION, loadCheckpoint, loadTrainingCheckpoint, type Checkpoint, type CheckpointMeta, type TrainingSettings,
  checkCheckpointSize, checkpointTensorBytes, MAX_CHECKPOINT_BYTES, notACheckpoint, storedDtypes,
} from '../io/checkpoint.js';
import { checkWritable, refuseOverwrite, sameFile, WriteQueue, writeFileAtomicAsync, type FileRole } from '../io/files.js';
import { acquireLock, type FileLock } from '../io/lock.js';
import { MAX_HEADER } from '../io/safetensors.js';
import { native, type CellKind } from '../native.js';
import { paramCount, paramTable, type ModelConfig } from '../nn/config.js';
import type { LanguageModel } from '../nn/lm.js';
import { formatBytes, trainingBytes } from '../nn/memory.js';
import { CHUNK_TOKENS, chunkTokensFromEnv, RNNLM } from '../nn/rnnlm.js';
import { RNNLMScratch } from '../nn/scratch.js';
import { Rng } from '../rng.js';
import { makeOptimizer, optimizerSpec, type OptimizerSettings } from './optim.js';
import { learningRate, type ScheduleSettings } from './schedule.js';
import { appendMetrics, bestEpoch, writeMetrics } from './metrics.js';
import { corpusFiles, RunFiles } from './run-files.js';
import { writePlot } from '../io/plot.js';
import { initialState, NonFiniteError, Trainer, type EpochMetrics, type TrainState } from './trainer.js';
import { InputError } from '../errors.js';
import { flagName, plural, show } from '../validate.js';
import { differentKernels, kernelRounding, mpiWorld, ranksDiffer, type World } from '../mpi.js';

export interface RunSettings extends Omit<TrainingSettings, 'corpusSha1' | 'batching' | 'valFrac' | 'lineEnds'> {
  cell: CellKind;
  /** Hidden size of every layer (one value: all layers). */
  hidden: number[];
  /** Optimizer and its hyper-parameters (default: the book's plain SGD with lr). */
  optimizer?: Omit<OptimizerSettings, 'lr'>;
  /** Learning-rate schedule (default: constant). */
  schedule?: Omit<ScheduleSettings, 'lr'>;
  clipMode?: 'norm' | 'value';
  /** Stop when the validation perplexity has not improved for this many epochs. */
  earlyStop?: number;
  /** Tokenizer to fit (default: the first registry corpus's, else char). */
  tokenizer?: TokenizerKind;
  /** word tokenizer: minimum count for a word to enter the vocabulary. */
  minFreq?: number;
  batching?: TrainingSettings['batching'];
  valFrac?: number | null;
  layers: number;
  dropout: number;
  dataDir?: string;
  /** Checkpoint path (the latest state); null: no checkpoints. */
  out: string | null;
  threads?: number;
  /** Save every this many epochs (default 1), or every `steps` optimizer steps. */
  saveEvery?: { epochs: number } | { steps: number };
  /** Numbered snapshots to keep beside the latest and the best (0: none). */
  keep?: number;
  /** The corpus as texts in memory instead of files (corpus then only labels them). */
  text?: string[];
  /** With initFrom: refuse a corpus with tokens outside the checkpoint's vocabulary instead of reading them as <unk>. */
  strict?: boolean;
  /** How messages name options: as the command line does (--init-from, the default) or the library (initFrom). */
  naming?: 'cli' | 'library';
}

export interface RunHooks {
  log?: (msg: string) => void;
  /** A warning (the CLI prints it as "deeprnn: warning: ..."). */
  warn?: (msg: string) => void;
  onEpoch?: (m: EpochMetrics) => void;
  onBatch?: (epoch: number, done: number, total: number, loss: number, tokens: number, seconds: number) => void;
  /** The trainer, once it exists (to stop it from a signal handler). */
  onTrainer?: (t: Trainer) => void;
  /** Corpus bytes read of the total, while loading. */
  onLoad?: (done: number, total: number) => void;
}

export interface RunResult {
  history: EpochMetrics[];
  model: LanguageModel;
  tokenizer: Tokenizer;
  seconds: number;
  /** Stopped by Trainer.stop() before the last epoch. */
  stopped: boolean;
  /** Ended by --early-stop. */
  early: boolean;
  state: TrainState;
  /** The signal that stopped the run (Trainer.stopSignal: under MPI, as every rank learns it), or null. */
  stopSignal: 'SIGINT' | 'SIGTERM' | null;
  /** Where the run's time went. */
  timings: RunTimings;
  /** How the run read its text's line ends (what a model of it reads a prefix with). */
  lineEnds: LineEnds;
}

/**
 * Where a run's time went, in seconds on the thread that ran it: the parts add
 * up to `total`, from runTraining's call to its result.
 */
export interface RunTimings {
  /** When the run began, in milliseconds since the epoch (performance.timeOrigin + now): a caller's own start-up comes before. */
  startedAt: number;
  /** Reading, counting and encoding the corpus. */
  data: number;
  /** The rest before the first batch: checks, the lock, the model, the checkpoint read or written before. */
  setup: number;
  /** Training steps: forward, backward, clipping, the update and its check. */
  training: number;
  /** Validation at the end of every epoch. */
  validation: number;
  /** Encoding checkpoints, and waiting for their writes to end (at most one save is let run ahead of training). */
  checkpoints: number;
  /** The rest: batches' order and windows, progress news, metrics lines, event-loop turns, the plot. */
  other: number;
  total: number;
}

/** An output of the run (checkpoint, metrics, plot) could not be written; the message says what is intact. */
export class OutputWriteError extends Error {
  override readonly name: string = 'OutputWriteError';
}

/** A checkpoint could not be written; the previous one is intact. */
export class CheckpointWriteError extends OutputWriteError {
  override readonly name = 'CheckpointWriteError';
}

/** How the run's messages name an option. */
const optionName = (s: RunSettings) => (s.naming === 'library' ? (k: string) => k : flagName);

/** Corpus, tokenizer and batches for the settings; throws on data that cannot make them. */
export async function prepareData(s: RunSettings, tokenizer?: Tokenizer, hooks: RunHooks = {}, resumed?: { sha1: string; parts?: number[] }, lineEnds: LineEnds = 'lf') {
  const opts = { tokenizer, kind: s.tokenizer, minFreq: s.minFreq, minFreqName: optionName(s)('minFreq'), log: hooks.log, onProgress: hooks.onLoad, lineEnds };
  const corpus: Omit<LoadedCorpus, 'sources'> = s.text
    ? loadTextTokens(s.text, opts)
    : await loadCorpusTokens(s.corpus, { ...opts, dataDir: resolveDataDir(s.dataDir) });
  // A resumed run's text is checked before it is cut into windows: another text
  // is that, not one too short for the run's sizes (which --resume keeps).
  if (resumed && corpus.sha1 !== resumed.sha1) throw notTheText(s, corpus.sha1, resumed.sha1);
  // The same bytes cut into other files are another text: a newline joins the files, and the sha1 does not see it.
  if (resumed?.parts && !sameParts(corpus.parts, resumed.parts)) {
    throw new InputError(`--resume: corpus ${quotedCorpora(s)} holds the bytes the checkpoint trained on, but cut into other files `
      + `(${partsText(corpus.parts)}; the checkpoint's: ${partsText(resumed.parts)}): files are joined with a newline, so it is another text; `
      + 'give the files the run read, in the same order');
  }
  let data: DataModule;
  try {
    data = makeDataModule(corpus.tokens, {
      numSteps: s.numSteps,
      numTrain: s.numTrain,
      numVal: s.numVal,
      batchSize: s.batchSize,
      valFrac: s.valFrac ?? undefined,
      batching: s.batching,
    }, optionName(s));
  } catch (e) {
    // A text of few ASCII letters is a short corpus to the book's tokenizer: say why, and what
    // reads it (with a checkpoint's tokenizer, which --tokenizer cannot change: a base model of another).
    if (e instanceof InputError && e.message.startsWith('the corpus has') && corpus.tokenizer.kind === 'd2l' && corpus.tokens.length * 4 < corpus.bytes) {
      const char = `${optionName(s)('tokenizer')} char`;
      throw new InputError(`${e.message} (the ${corpus.bytes.toLocaleString('en-US')} bytes of text hold few letters A-Z, which are all the d2l tokenizer `
        + `${tokenizer ? "of the checkpoint's model " : ''}keeps; every run of anything else is one space: `
        + `${tokenizer ? `fine-tune a model trained with ${char}, which reads every character` : `${char} reads every character`})`);
    }
    throw e;
  }
  return { corpus, tokenizer: corpus.tokenizer, data, sha1: corpus.sha1 };
}

/** The run's corpora, each in quotes (before, "rs timemachine" read as one path with a space). */
const quotedCorpora = (s: RunSettings) => s.corpus.map((c) => JSON.stringify(c)).join(' ');

const sameParts = (a: number[], b: number[]) => a.length === b.length && a.every((n, i) => n === b[i]);
/** "2 files of 23 and 19,977 bytes" */
const partsText = (p: number[]) => (p.length === 1 ? `1 file of ${p[0]!.toLocaleString('en-US')} bytes`
  : `${p.length} files of ${p.slice(0, -1).map((n) => n.toLocaleString('en-US')).join(', ')} and ${p[p.length - 1]!.toLocaleString('en-US')} bytes`);

/** A resumed run given another text than its checkpoint trained on. */
function notTheText(s: RunSettings, sha1: string, expected: string): InputError {
  return new InputError(`--resume: corpus ${quotedCorpora(s)} is not the text the checkpoint trained on (sha1 ${sha1}, expected ${/^[0-9a-f]{40}$/.test(expected) ? expected : show(expected)})`);
}

/**
 * Fine-tuning reads the corpus with the checkpoint's tokenizer: tokens it does
 * not know are read as <unk> with one warning giving their count and rate, or
 * refused with strict.
 */
function checkUnknown(s: RunSettings, corpus: Omit<LoadedCorpus, 'sources'>, file: string, hooks: RunHooks): void {
  const u = corpus.unknown;
  if (!u || u.count === 0) return;
  const name = optionName(s);
  const n = (x: number) => x.toLocaleString('en-US');
  const pct = (100 * u.count) / corpus.tokens.length;
  const rate = pct >= 0.01 ? pct.toFixed(2) : pct.toPrecision(2);
  const examples = u.distinct.slice(0, 5).map((t) => JSON.stringify(t)).join(', ') + (u.distinct.length > 5 ? ', ...' : '');
  const what = s.text ? name('text') : `${name('corpus')} ${s.corpus.join(' ')}`;
  const found = `${n(u.count)} of the ${n(corpus.tokens.length)} tokens of ${what} (${rate}%) are not in the vocabulary of `
    + `${name('initFrom')} ${file} (${u.distinct.length} distinct: ${examples})`;
  if (s.strict) throw new InputError(`${found}; without ${name('strict')} they are read as <unk>`);
  hooks.warn?.(`${found}; they are read as <unk> (${name('strict')} refuses them)`);
}

/** Refuses a model and batch that would not fit in this machine's memory, before allocating them. */
export function checkMemory(config: ModelConfig, s: RunSettings): void {
  const need = trainingBytes(config, s.numSteps, s.batchSize, s.impl === 'scratch');
  const have = os.totalmem();
  if (need.total > have) {
    throw new InputError(
      `the model and batch need about ${formatBytes(need.total)} (parameters ${formatBytes(need.params)}, `
        + `activations ${formatBytes(need.activations)}) but this machine has ${formatBytes(have)}; `
        + `reduce ${(['hidden', 'layers', 'batchSize'] as const).map(optionName(s)).join(', ')} or ${optionName(s)('numSteps')}`,
    );
  }
}

/**
 * The best checkpoint beside a checkpoint resumed in place, made to agree with
 * its history. Its own best is the checkpoint whose history is the first
 * epochs of the run's, ending at the run's best. One of another history (an
 * earlier copy of the checkpoint put back at --out, whose abandoned later
 * epochs wrote it) is kept aside as `*.bak` with a warning: before, it stayed,
 * the run reported another best than the file held, and its next best replaced
 * it without a word. A missing best is said; with a `*.bak` of it there (a
 * fresh run on this --out killed, kill -9, before its first save had kept the
 * best aside and left this run's checkpoint in place), the `*.bak` goes back
 * when it is the run's own. A best one improving epoch ahead of the history
 * (the checkpoint's history, then one epoch) is most likely the run's own,
 * written at the end of an epoch whose checkpoint was not (a stop between the
 * two writes, the best being first, or a --save-every of several epochs): it
 * is kept aside all the same, since the resume may not repeat that epoch, or
 * not to the same bits (other --epochs under a schedule, other ranks), but
 * with a note that says so rather than the warning for another history's.
 */
function restoreBest(best: string, history: EpochMetrics[], hooks: RunHooks): void {
  // (no epoch with a finite perplexity: no best was written)
  const bestPpl = bestEpoch(history)?.valPpl;
  if (bestPpl === undefined) return;
  const histories = (file: string): { kept: EpochMetrics[]; prefix: boolean } | null => {
    let kept: EpochMetrics[];
    try {
      kept = loadTrainingCheckpoint(file).meta.history;
    } catch {
      return null; // not a checkpoint of a run
    }
    const n = Math.min(kept.length, history.length);
    const prefix = kept.slice(0, n).every((m, i) => m.epoch === history[i]!.epoch && m.valPpl === history[i]!.valPpl && m.trainLoss === history[i]!.trainLoss);
    return { kept, prefix };
  };
  const ours = (file: string): { epoch: number } | null => {
    const h = histories(file);
    const same = h !== null && h.prefix && h.kept.length > 0 && h.kept.length <= history.length && h.kept[h.kept.length - 1]!.valPpl === bestPpl;
    return same ? { epoch: h.kept[h.kept.length - 1]!.epoch } : null;
  };
  const bak = `${best}.bak`;
  if (existsSync(best)) {
    if (ours(best)) return;
    const h = histories(best);
    const next = h?.kept[history.length];
    const ahead = h !== null && h.prefix && h.kept.length === history.length + 1 && next!.valPpl < bestPpl;
    try {
      if (existsSync(bak) && !statSync(bak).isFile()) throw new Error(`${bak} exists and is not a regular file`);
      renameSync(best, bak);
    } catch (e) {
      throw new InputError(`the best checkpoint ${best} is not this run's (its history is not the first epochs of the checkpoint's, ending at its best), `
        + `and it cannot be kept aside as ${bak} (${(e as Error).message}); move it away`);
    }
    if (ahead) {
      hooks.log?.(`note: the best checkpoint ${path.basename(best)} is of epoch ${next!.epoch}, one epoch past this checkpoint's history (a run stopped `
        + `after writing its best and before its checkpoint, or an earlier copy of the checkpoint put back); kept aside as ${path.basename(bak)}, `
        + 'and the run writes its best again when it improves');
      return;
    }
    hooks.warn?.(`the best checkpoint ${best} is not this run's (its history is not the first epochs of the checkpoint's, ending at its best: `
      + `another run's, or a later one of this run's abandoned since); kept aside as ${path.basename(bak)}, and the run writes a new best when it improves`);
    return;
  }
  if (!existsSync(bak)) {
    hooks.warn?.(`this run's best checkpoint ${best} is missing; the run goes on and writes a new best when it improves`);
    return;
  }
  const kept = ours(bak);
  if (kept) {
    renameSync(bak, best);
    hooks.log?.(`note: ${path.basename(bak)}, this run's best checkpoint (epoch ${kept.epoch}), kept aside by a fresh run on this --out `
      + `that did not finish, is back as ${path.basename(best)}`);
  } else {
    hooks.warn?.(`this run's best checkpoint ${best} is missing, and ${bak} is there but is not this run's best; the run goes on and writes a new best when it improves`);
  }
}

/** Settings to continue the run stored in a checkpoint, for `epochs` epochs in all. */
export function resumeSettings(file: string, over: Partial<RunSettings>): RunSettings {
  const { meta } = loadTrainingCheckpoint(file, 'start a new run from its weights with --init-from instead of --resume');
  const t = meta.training;
  const c = meta.config;
  if (over.corpus === undefined && over.text === undefined) {
    // The files the run read, recorded by their absolute paths: one moved or deleted since is named as the checkpoint's.
    for (const spec of t.corpus) {
      if (!corpusRegistry().has(spec) && path.isAbsolute(spec) && missing(spec)) {
        throw new InputError(`the corpus the checkpoint ${file} trained on, ${spec}, is not there any more (moved or deleted): `
          + 'give --corpus with the same text where it is now (its sha1 is checked against the checkpoint\'s)');
      }
    }
  }
  return {
    ...t,
    tokenizer: meta.tokenizer.kind,
    minFreq: meta.tokenizer.minFreq,
    cell: c.cell,
    layers: c.hidden.length,
    hidden: c.hidden,
    optimizer: meta.optimizer,
    schedule: meta.schedule,
    clipMode: meta.clipMode,
    dropout: c.dropout,
    out: file,
    ...over,
  };
}

/**
 * Trains as `s` says (or continues the run in the checkpoint `resumeFrom`),
 * saving on the schedule asked for. Before any work it refuses an --out that
 * cannot be written, outputs that would overwrite an input, and an --out that
 * another process is writing (a lock beside it).
 */
export async function runTraining(s: RunSettings, hooks: RunHooks = {}, resumeFrom?: string): Promise<RunResult> {
  const began = performance.now();
  if (s.threads !== undefined) native().setThreads(s.threads);
  const world = mpiWorld();
  // Until the ranks have compared their fingerprints (agreeRanks), an error on one rank
  // would leave the others waiting in that first sum until the launcher kills them
  // (rank 0 holding its locks): the failed rank joins the sum, so that all stop there.
  const agreement = { done: false };
  try {
    return await runRank(s, hooks, resumeFrom, world, agreement, began);
  } catch (e) {
    if (world && !agreement.done) {
      agreement.done = true;
      try {
        agreeRanks(world, null);
      } catch {
        // (MPI itself failing: this rank's own error says more)
      }
    }
    throw e;
  }
}

async function runRank(s: RunSettings, hooks: RunHooks, resumeFrom: string | undefined, world: World | null, agreement: { done: boolean },
  began: number): Promise<RunResult> {
  if (world && s.impl === 'scratch') {
    throw new InputError(`${optionName(s)('impl')} scratch runs in one process; under an MPI launcher (${world.size} ranks) use the native model`);
  }
  // Data-parallel: rank 0 alone writes (checkpoints, metrics, plot); every rank reads.
  const files = s.out && (!world || world.rank === 0) ? new RunFiles(s.out) : null;
  if (files) {
    checkRunOutputs(files);
    refuseOwnInputs(files, s, resumeFrom);
    // (a run resumed in place writes over the checkpoint it read, which the reading checked)
    if (!(resumeFrom && sameFile(resumeFrom, files.out))) refuseForeignCheckpoint(files.out, `${optionName(s)('out')} ${files.out}`, optionName(s)('out'));
  }
  const what = files ? `${optionName(s)('out')} ${files.out}` : '';
  const locks: FileLock[] = [];
  if (files) {
    try {
      for (const [file, whose] of runLocks(files, what)) locks.push(acquireLock(file, whose));
    } catch (e) {
      for (const lock of locks.reverse()) lock.release();
      throw e;
    }
  }
  let failed = false;
  try {
    return await train(s, hooks, files, resumeFrom, world, agreement, began, locks);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    let error: unknown = null;
    for (const lock of locks.reverse()) {
      try {
        lock.release();
      } catch (e) {
        error ??= e;
      }
    }
    // The run's own error says more than the lock's (a directory made unwritable says both).
    if (error && !failed) throw error;
  }
}

/** The part of the ranks' first sum that differs when a rank failed before it (agreeRanks). */
const FAILED_RANK = 'a rank that failed';
/** The parts the ranks compare before the first batch, in order. */
const AGREED_PARTS = ['the settings', 'the text', 'the position', 'the weights', 'the kernels'] as const;

/**
 * The ranks' first sum (ranksDiffer): the parts that are not the same on
 * every rank. A rank that failed before it (parts null) sends a failure in
 * their place, so that every rank makes this one sum and all learn of it
 * (FAILED_RANK among the parts that differ, unless every rank failed).
 */
function agreeRanks(world: World, parts: [(typeof AGREED_PARTS)[number], string | Float32Array][] | null): string[] {
  if (parts && parts.map(([name]) => name).join() !== AGREED_PARTS.join()) throw new Error('agreeRanks: the parts are not AGREED_PARTS');
  const sent: [string, string | Float32Array][] = parts ?? AGREED_PARTS.map((name) => [name, '']);
  return ranksDiffer(world, [...sent, [FAILED_RANK, parts ? 'no' : 'yes']]);
}

/** Refuses (InputError) an --out, or a file the run writes beside it, that cannot be written. */
export function checkRunOutputs(files: RunFiles): void {
  checkWritable(files.out, 'checkpoint path');
  for (const [what, file] of [['the best checkpoint', files.best], ['the metrics file', files.metrics], ['the plot', files.plot]] as const) {
    checkWritable(file, what);
  }
}

/**
 * Refuses a checkpoint path (`what`: as the message names it; `option`: what
 * to change) where a file is that a run would write over and that is no
 * deeprnn checkpoint: a user's notes, another program's model (before, replaced
 * by the run's first checkpoint without a word).
 */
export function refuseForeignCheckpoint(file: string, what: string, option: string): void {
  const why = notACheckpoint(file);
  if (why) {
    throw new InputError(`${what} exists and is not a deeprnn checkpoint (${why}): a run writes over an earlier run's checkpoint, `
      + `never another file; move it away, or choose another ${option}`);
  }
}

/**
 * The locks a run on `files` holds, with what each names (`what`: its --out as
 * the command spells it): its --out's; its best checkpoint's, since another
 * run whose --out is this run's best (or whose best is this --out) would
 * write over it; its metrics file's, since another --out of the same NAME
 * (m.ckpt, m.bin) writes the same metrics file and plot.
 */
export function runLocks(files: RunFiles, what: string): [string, string][] {
  return [
    [files.lock, what],
    [files.bestLock, `${what} (its best checkpoint ${files.best})`],
    [files.metricsLock, `${what} (its metrics file ${files.metrics})`],
  ];
}

/** No output of the run may be one of its inputs; the checkpoint it resumes is its own to update (with its best). */
function refuseOwnInputs(files: RunFiles, s: RunSettings, resumeFrom?: string): void {
  const reads: FileRole[] = s.text ? [] : corpusFiles(s.corpus, resolveDataDir(s.dataDir)).map((p) => ({ label: '--corpus', path: p }));
  if (resumeFrom) reads.push({ label: '--resume', path: resumeFrom });
  else if (s.initFrom) reads.push({ label: optionName(s)('initFrom'), path: s.initFrom });
  const updatable = new Set(['--out', 'the best checkpoint']);
  refuseOverwrite(reads, files.writes(), (r, w) => r.label === '--resume' && updatable.has(w.label));
  if (resumeFrom && !sameFile(resumeFrom, files.out)) {
    // Resumed into another --out, the earlier run's best stays beside the checkpoint
    // resumed from: no file of this run may be it (an --out naming it replaced the
    // best weights with this run's last, and no file held them any more).
    let earlierBest: string | null = null;
    try {
      earlierBest = new RunFiles(resumeFrom).best;
    } catch {
      // (a name with no room for a best beside it has none)
    }
    for (const w of files.writes()) {
      if (earlierBest && existsSync(earlierBest) && sameFile(w.path, earlierBest)) {
        throw new InputError(`${w.label} ${w.path} is the best checkpoint of the run resumed from ${resumeFrom}: this run would replace `
          + `its weights; choose another --out, or resume in place (--out ${resumeFrom})`);
      }
    }
  }
  if (!resumeFrom && s.initFrom) {
    // A fresh run keeps the --out's numbered checkpoints aside (*.bak) and writes its own under their names.
    const label = optionName(s)('initFrom');
    // (and their backups, which the keeping aside replaces; a name that matches but is no file: its own error, later)
    const snapshots = files.snapshots();
    const named = existsSync(s.initFrom) && (files.snapshotPosition(s.initFrom) !== null
      || snapshots.some((f) => sameFile(f, s.initFrom!) || (existsSync(`${f}.bak`) && sameFile(`${f}.bak`, s.initFrom!))));
    if (named) {
      throw new InputError(`${label} ${s.initFrom} is one of ${optionName(s)('out')} ${files.out}'s numbered checkpoints (or the backup of one), `
        + `which this run keeps aside as *.bak and replaces with its own: copy it elsewhere first, or choose another ${optionName(s)('out')}`);
    }
  }
  if ((s.keep ?? 0) > 0) {
    for (const r of reads) {
      if (r.label === '--corpus' && files.snapshotPosition(r.path)) {
        throw new InputError(`--keep would write numbered checkpoints named like --corpus ${r.path}, which this command reads; choose another --out`);
      }
    }
  }
}

/**
 * The tokens per chunk a resumed run continues with: the checkpoint's, when
 * it records them (DEEPRNN_CHUNK_TOKENS set to another is refused: the run
 * would go on with other rounding and end with other weights than the run
 * not stopped); else, as before they were recorded, DEEPRNN_CHUNK_TOKENS or
 * the default.
 */
function resumedChunkTokens(recorded: number | undefined, file: string): number {
  const env = chunkTokensFromEnv();
  // A checkpoint from before the size was recorded: the variable, as then, is the only word on it.
  if (recorded === undefined) return env ?? CHUNK_TOKENS;
  const theirs = recorded;
  if (env !== undefined && env !== theirs) {
    throw new InputError(`DEEPRNN_CHUNK_TOKENS=${env} differs from the ${theirs} tokens per chunk that ${file} was trained with; `
      + `results depend on it (by rounding), so a resume continues with the checkpoint's: unset DEEPRNN_CHUNK_TOKENS, or set it to ${theirs}`);
  }
  return theirs;
}

const position = (p: { epoch: number; batch: number }) => `epoch ${p.epoch}, batch ${p.batch}`;

/** Whether nothing is at `file` (not a file we cannot see: that may be a checkpoint). */
function missing(file: string): boolean {
  try {
    lstatSync(file);
    return false;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

async function train(s: RunSettings, hooks: RunHooks, files: RunFiles | null, resumeFrom: string | undefined, world: World | null,
  agreement: { done: boolean }, began: number, locks: FileLock[] = []): Promise<RunResult> {
  if (s.precision === 'bf16') {
    const name = optionName(s);
    if (s.impl === 'scratch') {
      // (resumed, the precision is the checkpoint's, not an option given)
      const what = resumeFrom ? `the checkpoint ${resumeFrom} trained with ${name('precision')} bf16, which` : `${name('precision')} bf16`;
      throw new InputError(`${what} needs ${name('impl')} native: the scratch model computes in float64`);
    }
  }
  const ck = resumeFrom ? loadTrainingCheckpoint(resumeFrom, 'start a new run from its weights with --init-from instead of --resume') : null;
  if (ck && (s.epochs < ck.meta.state.epoch || (s.epochs === ck.meta.state.epoch && ck.meta.state.batch > 0))) {
    // Fewer epochs than the checkpoint has done would drop some of them (or a part-done epoch): say so rather than report a run.
    const at = ck.meta.state;
    throw new InputError(`${optionName(s)('epochs')} ${s.epochs} (epochs in all) is behind the checkpoint's position `
      + `(${plural(at.epoch, 'epoch')} done${at.batch ? ` and ${plural(at.batch, 'batch', 'batches')} of the next` : ''}): give ${at.batch ? at.epoch + 1 : at.epoch} or more to continue ${resumeFrom}`);
  }
  // Fine-tuning: the model and tokenizer of a checkpoint, everything else new.
  const init: Checkpoint | null = !ck && s.initFrom ? loadCheckpoint(s.initFrom) : null;
  const reading = performance.now();
  // A resumed run reads its text's line ends as it did (a checkpoint from before they were recorded: kept).
  const lineEnds: LineEnds = ck ? ck.meta.training.lineEnds ?? 'kept' : 'lf';
  const { tokenizer, data, sha1, corpus } = await prepareData(s, (ck ?? init)?.tokenizer, hooks,
    ck ? { sha1: ck.meta.training.corpusSha1, parts: ck.meta.training.corpusParts } : undefined, lineEnds);
  const dataSeconds = (performance.now() - reading) / 1000;
  if (init) checkUnknown(s, corpus, s.initFrom!, hooks);
  if (ck && ck.meta.training.corpusSha1 !== sha1) throw notTheText(s, sha1, ck.meta.training.corpusSha1);
  if (ck && ck.meta.state.batch > data.numTrainBatches) {
    throw new InputError(`checkpoint ${resumeFrom}: state.batch ${ck.meta.state.batch} is past the end of an epoch of ${data.numTrainBatches} batches`);
  }
  // What the file holds, not what its metadata says (a file converted by another tool may say fp32 of bf16 tensors).
  const stored = ck ? storedDtypes(ck) : null;
  if (ck && stored && (stored.weights !== 'fp32' || stored.roundedState.length) && s.epochs > ck.meta.state.epoch) {
    const what = [
      ...(stored.weights === 'fp32' ? [] : [stored.weights !== 'bf16' ? `its weights ${stored.weights}`
        : ck.meta.training.saveDtype === 'bf16' ? `its weights in bf16 (${optionName(s)('saveDtype')} bf16)` : 'its weights in bf16 (though its metadata says fp32)']),
      ...(stored.roundedState.length ? [`${stored.roundedState.join(', ')} in bf16`] : []),
    ];
    hooks.warn?.(`${resumeFrom} stores ${what.join(' and ')}: the run continues from the rounded ${stored.roundedState.length ? 'values' : 'weights'}, `
      + 'so it does not repeat an uninterrupted run bit for bit (fp32 checkpoints resume exactly)');
  }
  if (ck && s.impl !== ck.meta.training.impl && s.epochs > ck.meta.state.epoch) {
    const what = (impl: string) => (impl === 'scratch' ? 'the float64 reference (scratch)' : 'the native float32 model');
    hooks.warn?.(`${resumeFrom} was trained by ${what(ck.meta.training.impl)} and the run continues with ${what(s.impl)} `
      + `(${optionName(s)('impl')} ${s.impl}), so it does not repeat an uninterrupted run bit for bit`);
  } else if (ck && s.impl === 'scratch' && s.epochs > ck.meta.state.epoch) {
    // (a checkpoint is float32: the float64 model's weights and state went in rounded)
    hooks.warn?.(`${resumeFrom} holds the float64 reference's (scratch) weights and state rounded to float32: the run continues from the `
      + 'rounded values, so it does not repeat an uninterrupted run bit for bit (native checkpoints resume exactly)');
  }
  const hidden = s.hidden.length === 1 ? Array.from({ length: s.layers }, () => s.hidden[0]!) : s.hidden;
  if (init) {
    const c = init.meta.config;
    if (c.cell !== s.cell || c.hidden.join(',') !== hidden.join(',')) {
      throw new InputError(`${optionName(s)('initFrom')} ${s.initFrom}: the checkpoint's model is ${c.cell} with hidden sizes ${c.hidden.join(',')}, `
        + `not ${s.cell} with ${hidden.join(',')} as the settings say`);
    }
  }
  const config: ModelConfig = ck?.meta.config ?? { cell: s.cell, vocabSize: tokenizer.vocab.size, hidden, dropout: s.dropout };
  checkMemory(config, s);
  // A checkpoint too large to read back is refused now, not at the end of the first epoch:
  // its weights, carried state and the optimizer's buffers (a resumed run's, else those its
  // first step makes: each as large as the weights; plain SGD has none).
  if (s.out) {
    const P = paramCount(paramTable(config));
    const opt = s.optimizer ?? { kind: 'sgd' as const };
    const buffers = opt.kind === 'sgd' && !((opt as { momentum?: number }).momentum) ? 0 : optimizerSpec(opt.kind).buffers.length;
    const bytesAs = (dtype: 'BF16' | 'F32') => checkpointTensorBytes(P, config, s.batching === 'sequential' ? s.batchSize : 0, ck?.optimizerState ?? {}, dtype)
      + (ck ? 0 : 4 * buffers * P);
    // bf16 weights are advised only where they would bring the checkpoint within the limit (the optimizer's state stays float32)
    const advice = s.saveDtype !== 'bf16' && bytesAs('BF16') <= MAX_CHECKPOINT_BYTES ? `with ${optionName(s)('saveDtype')} bf16` : null;
    checkCheckpointSize(s.out, bytesAs(s.saveDtype === 'bf16' ? 'BF16' : 'F32'), true, advice);
  }
  let rng: Rng;
  let model: RNNLM | RNNLMScratch;
  let state: TrainState;
  if (ck) {
    rng = Rng.fromState(ck.meta.state.rng);
    if (s.impl === 'scratch') {
      model = new RNNLMScratch(config);
      model.params.set(ck.model.params);
    } else {
      model = ck.model;
    }
    state = { ...ck.meta.state };
    if (ck.carry && state.batch > 0) model.setCarriedState(ck.carry, s.batchSize);
  } else if (init) {
    // The checkpoint's weights exactly; the seed draws the order of the batches and the dropout masks.
    rng = new Rng(s.seed);
    model = s.impl === 'scratch' ? new RNNLMScratch(config) : new RNNLM(config);
    model.params.set(init.model.params);
    state = initialState(rng);
  } else {
    rng = new Rng(s.seed);
    model = s.impl === 'scratch' ? new RNNLMScratch(config, rng) : new RNNLM(config, rng);
    state = initialState(rng);
  }
  if (model instanceof RNNLM) {
    model.tokenizer = tokenizer;
    model.lineEnds = lineEnds;
    model.precision = s.precision ?? 'fp32';
    // Results depend on the tokens per chunk (by rounding): a resume continues with the checkpoint's. A scratch
    // run's checkpoint has none (its model has no chunks): the native model's own default, as a new run's.
    if (ck && ck.meta.training.impl === 'native') model.chunkTokens = resumedChunkTokens(ck.meta.training.chunkTokens, resumeFrom!);
  }
  const optimizer = makeOptimizer({ ...(s.optimizer ?? { kind: 'sgd' }), lr: s.lr });
  if (ck) optimizer.loadState(ck.optimizerState, ck.meta.optimizer.steps);
  // A constant rate without warm-up needs no schedule: the optimizer keeps s.lr.
  const scheduled = s.schedule && (s.schedule.kind !== 'constant' || s.schedule.warmup > 0);
  const schedule: ScheduleSettings | undefined = scheduled ? { ...s.schedule!, lr: s.lr } : undefined;
  const totalSteps = s.epochs * data.numTrainBatches;
  // A cosine schedule spans the run's epochs: a resume with other --epochs bends it from here on.
  if (ck && schedule?.kind === 'cosine' && s.epochs !== ck.meta.training.epochs && s.epochs > ck.meta.state.epoch) {
    const at = (total: number) => String(Number(learningRate(schedule, state.step, state.epoch, total).toPrecision(3)));
    const [now, planned] = [at(totalSteps), at(ck.meta.training.epochs * data.numTrainBatches)];
    hooks.warn?.(`${optionName(s)('epochs')} ${s.epochs} changes the cosine schedule this run planned over ${ck.meta.training.epochs} epochs: `
      + `the learning rate falls to ${schedule.minLr} at epoch ${s.epochs} instead of ${ck.meta.training.epochs}`
      + (now !== planned ? `, and is ${now} at this step instead of ${planned}` : ''));
  }
  // Files by their absolute paths, so that a resume from another directory finds them (registry names as they are).
  const recorded = s.text ? s.corpus : s.corpus.map((c) => (corpusRegistry().has(c) ? c : path.resolve(c)));
  const training: TrainingSettings = {
    corpus: recorded, corpusSha1: sha1, corpusParts: corpus.parts, epochs: s.epochs, batchSize: s.batchSize, numSteps: s.numSteps,
    numTrain: s.numTrain, numVal: s.numVal, lr: s.lr, clip: s.clip, seed: s.seed, impl: s.impl,
    precision: s.precision ?? 'fp32', saveDtype: s.saveDtype ?? 'fp32',
    skipNonFinite: s.skipNonFinite, batching: s.batching ?? 'random', valFrac: s.valFrac ?? null,
    // (absolute, as the corpus's path is: info run elsewhere names the file it was)
    ...(s.initFrom ? { initFrom: ck ? s.initFrom : path.resolve(s.initFrom) } : {}),
    ...(model instanceof RNNLM ? { chunkTokens: model.chunkTokens } : {}),
    ...(s.earlyStop ? { earlyStop: s.earlyStop } : {}),
    lineEnds,
  };
  if (world) {
    // Ranks started with different settings, texts or checkpoints would meet in sums of other sizes
    // (a crash) or wait for each other's last epochs (a hang): they stop here together instead.
    const { corpus: _names, corpusSha1, corpusParts, initFrom: _init, saveDtype: _dtype, ...run } = training;
    agreement.done = true;
    const differ = agreeRanks(world, [
      // what ends a rank's loop early (earlyStop) and what cuts its batches into shards (the chunk size) included
      ['the settings', JSON.stringify({ config, run, optimizer: optimizer.toJSON(), schedule, clipMode: s.clipMode, earlyStop: s.earlyStop ?? null,
        chunkTokens: model instanceof RNNLM ? model.chunkTokens : null })],
      ['the text', `${corpusSha1} ${JSON.stringify(corpusParts)} ${JSON.stringify(tokenizer.toJSON())}`],
      ['the position', JSON.stringify(state)],
      ['the weights', model.params as Float32Array],
      // (not an error: every table computes the same run, each rounding its own way)
      ['the kernels', kernelRounding(s.precision ?? 'fp32').key],
    ]);
    if (differ.includes(FAILED_RANK)) {
      throw new InputError('another rank of this job stopped with an error before training (its message says why): every rank stops here, '
        + 'before anything is written');
    }
    const kernels = differ.indexOf('the kernels');
    if (kernels >= 0) {
      differ.splice(kernels, 1);
      if (world.rank === 0 && !differ.length) {
        hooks.warn?.(differentKernels(s.precision ?? 'fp32', 'the run is sound, but its weights will not be'));
      }
    }
    if (differ.length) {
      throw new InputError(`the ranks of this job differ in ${differ.join(', ')}: start every rank with the same command, `
        + 'the same corpus and the same checkpoint');
    }
  }
  const start = performance.now();
  const every = s.saveEvery ?? { epochs: 1 };
  const keep = s.keep ?? 0;
  const history: EpochMetrics[] = [];
  let best = Infinity;
  for (const h of ck?.meta.history ?? []) {
    history.push(h);
    best = Math.min(best, h.valPpl);
  }
  const meta = (h: EpochMetrics[]): CheckpointMeta => ({
    version: FORMAT_VERSION, config, tokenizer: tokenizer.toJSON(), training,
    optimizer: optimizer.toJSON(), schedule, clipMode: s.clipMode, state, history: h,
  });
  if (files) {
    // The reader's header limit, with a bound that every checkpoint of the run stays within.
    const bound = checkpointHeaderBound(model, meta(history), s.epochs, data.carry ? s.batchSize : null, optimizer.state());
    if (bound.total > MAX_HEADER) {
      const n = (x: number) => x.toLocaleString('en-US');
      throw new InputError(
        `checkpoints of this run would need a header of up to ${n(bound.total)} bytes (the vocabulary of ${n(tokenizer.vocab.size)} tokens `
          + `takes ${n(bound.vocabulary)}, the history of ${n(s.epochs)} epochs up to ${n(bound.history)}), more than the ${n(MAX_HEADER)} `
          + 'that safetensors allows; use a smaller vocabulary (--min-freq with --tokenizer word) or fewer --epochs',
      );
    }
  }

  // Every check has passed: from here on the run writes.
  /** Where the last checkpoint at --out is (the resumed one when the run continues in place): written, and asked for. */
  const own = Boolean(files && resumeFrom && sameFile(resumeFrom, files.out));
  let saved: { epoch: number; batch: number } | null = own && ck ? { epoch: ck.meta.state.epoch, batch: ck.meta.state.batch } : null;
  let asked = saved;
  let savedStep = -1;
  // Checkpoints are encoded (a copy) between batches and written in the
  // background, in order, while training goes on (the metrics lines and the
  // hooks' batch and epoch news queue behind them, so that an epoch reported is
  // an epoch saved); a failed write stops the run after the batch in which it
  // is seen, or at its end. Training goes past a save only once the save before
  // it is on disk: at most two saves' copies are held, and a stop waits for
  // one save at most.
  const writes = new WriteQueue();
  let snapshots: string[] = [];
  const intact = () => {
    if (!saved || !files) return '';
    // (said only of a file that is there: one removed meanwhile is not)
    return existsSync(files.out) ? `; the checkpoint ${files.out} (${position(saved)}) is intact` : `; the checkpoint ${files.out} is gone (removed while the run went on)`;
  };
  /**
   * Before each write: the run's locks are still its own. A directory removed
   * while the run goes on takes them along, and each write would make it
   * again, with a metrics file missing the epochs before and no lock to keep
   * another run out (before, the run went on and reported success).
   */
  const guard = () => {
    const lost = locks.find((l) => !l.held());
    if (lost) {
      lostLock = true;
      throw new OutputWriteError(`the lock ${lost.file} of ${optionName(s)('out')} ${files!.out} is gone (its directory removed, or the lock `
        + `deleted, while the run went on): another run could write there now, so this run stops${intact()}`);
    }
  };
  const outputError = (what: string, file: string, e: unknown) =>
    (e instanceof InputError ? e : new OutputWriteError(`could not write ${what} ${file} (${(e as Error).message})${intact()}`));
  /** A lock of the run was found lost (its directory removed, perhaps taken since by another run, whose files are not this run's to tidy). */
  let lostLock = false;
  /** The earlier run's files this run kept aside as *.bak (they go back when this run fails before it has saved anything). */
  let movedAside: string[] = [];
  if (files) {
    if (!own) {
      movedAside = files.setAside(resumeFrom);
      const moved = movedAside;
      if (moved.length) {
        const names = moved.slice(0, 4).map((f) => path.basename(f)).join(', ') + (moved.length > 4 ? `, ... (${moved.length} files)` : '');
        // Without the checkpoint they were another --out's of the same NAME (m.ckpt for m.bin), a run's that ended before
        // its first save, or a run's whose checkpoint was removed since.
        hooks.log?.(existsSync(files.out)
          ? `note: an earlier run wrote to --out ${files.out}; its ${names} kept aside as *.bak`
          : `note: ${names} beside --out ${files.out} are an earlier run's (one whose --out had this name with another extension, that ended `
            + 'before its first checkpoint, or whose checkpoint was removed); kept aside as *.bak');
      }
    }
    files.removeStaleTemps();
    if (own) snapshots = files.snapshots().filter((f) => files.snapshotPosition(f)!.epoch <= state.epoch);
    if (own) restoreBest(files.best, history, hooks);
    try {
      writeMetrics(files.metrics, history);
    } catch (e) {
      throw outputError('metrics file', files.metrics, e);
    }
  }

  /** The epoch of this run's last best checkpoint on disk, or null (a failed run keeps it aside when it puts the earlier run's files back). */
  let wroteBest: number | null = null;
  /** The last checkpoint encoded, and the run's position then (epoch/batch/step/epochs of history). */
  let encoded: { at: string; buf: Buffer } | null = null;
  /** Seconds spent encoding checkpoints, and waiting for the last writes at the end. */
  let encodeSeconds = 0;
  let drainSeconds = 0;
  /** Queues a write of the run as it is now to `file`; `done` runs once it is on disk. */
  const write = (file: string, done?: () => void) => {
    writes.check();
    // Mid-epoch with sequential batches, the carried state is part of the position.
    const carried = data.carry && state.batch > 0 ? model.carriedState() : null;
    const failed = (e: unknown) => {
      const there = missing(file) ? 'no checkpoint was written there' : 'the previous checkpoint there is intact';
      // A snapshot's or the best's failure: --out's own checkpoint, when it has one, says where a resume starts.
      const out = files && file !== files.out ? intact() : '';
      return new CheckpointWriteError(`could not write checkpoint ${file} (${(e as Error).message}); ${there}${out}`);
    };
    // The best, the last and a snapshot written at one position hold the same bytes: encoded once.
    const at = `${state.epoch}/${state.batch}/${state.step}/${trainer.history.length}`;
    let buf: Buffer;
    if (encoded?.at === at) {
      buf = encoded.buf;
    } else {
      const encoding = performance.now();
      try {
        buf = encodeCheckpoint(file, model, meta(trainer.history), carried ? { state: carried, N: s.batchSize } : undefined, optimizer.state(),
          s.saveDtype === 'bf16' ? 'BF16' : 'F32');
      } catch (e) {
        throw failed(e);
      }
      encoded = { at, buf };
      encodeSeconds += (performance.now() - encoding) / 1000;
    }
    writes.add(async () => {
      guard();
      try {
        await writeFileAtomicAsync(file, buf);
      } catch (e) {
        throw failed(e);
      }
      done?.();
    }, true);
  };
  const save = () => {
    if (!files) return;
    const here = { epoch: state.epoch, batch: state.batch };
    write(files.out, () => {
      saved = here;
    });
    asked = here;
    savedStep = state.step;
    if (keep > 0) {
      const snap = files.snapshot(state);
      write(snap);
      snapshots = snapshots.filter((f) => path.resolve(f) !== path.resolve(snap));
      snapshots.push(snap);
      while (snapshots.length > keep) {
        const old = snapshots.shift()!;
        writes.add(() => rmSync(old, { force: true }));
      }
    }
  };
  const savedHere = () => asked !== null && asked.epoch === state.epoch && asked.batch === state.batch;

  const trainer = new Trainer({
    epochs: s.epochs,
    clip: s.clip,
    clipMode: s.clipMode,
    earlyStop: s.earlyStop,
    schedule: schedule ? (step, epochs) => learningRate(schedule, step, epochs, totalSteps) : undefined,
    skipNonFinite: s.skipNonFinite,
    optionName: optionName(s),
    world,
    settle: () => writes.boundary(),
    threads: s.threads,
    onBatch: (done, total, loss, tokens, seconds) => {
      // A write that failed in the background stops the run after the batch it is seen in.
      writes.check();
      if ('steps' in every && state.step > 0 && state.step % every.steps === 0 && savedStep !== state.step) save();
      const epoch = state.epoch + 1;
      const { onBatch } = hooks;
      if (onBatch) writes.add(() => onBatch(epoch, done, total, loss, tokens, seconds));
    },
    onEpoch: (m) => {
      // The best first: a run stopped between the two writes (a failure, kill -9)
      // resumes from the checkpoint before them, repeats the epoch and writes
      // the best again; the other order would leave a best file behind the
      // history that a resumed run believes it holds.
      if (files && m.valPpl < best) {
        best = m.valPpl;
        write(files.best, () => {
          wroteBest = m.epoch;
        });
      }
      // With a step schedule the epoch's end is saved too: its checkpoint holds the epoch's metrics.
      const due = 'epochs' in every ? state.epoch % every.epochs === 0 : !savedHere();
      if (due || state.epoch === s.epochs) save();
      if (files) {
        // After the epoch's checkpoints, so that an error names the last one written.
        writes.add(() => {
          guard();
          try {
            appendMetrics(files.metrics, m, m.epoch > 1);
          } catch (e) {
            throw outputError('metrics file', files.metrics, e);
          }
        });
      }
      // (m is the Trainer's copy: the history stays as it is whatever the hook does)
      writes.add(() => hooks.onEpoch?.(m));
    },
  });
  for (const h of history) trainer.history.push(h);
  hooks.onTrainer?.(trainer);
  let stopped: boolean;
  let early: boolean | undefined;
  const fitting = performance.now();
  try {
    ({ stopped, early } = await trainer.fit(model, data, optimizer, rng, state));
    // A stop, an early stop, or a resume with no epoch left to run (into another --out) saves where it is.
    if (!savedHere()) save();
    const draining = performance.now();
    await writes.drain();
    drainSeconds = (performance.now() - draining) / 1000;
  } catch (e) {
    // The checkpoints asked for before the error are written (or failed) before it is told.
    await writes.drain().catch(() => {});
    let keptBest = '';
    if (files && !own && saved === null && !lostLock) {
      // No checkpoint of this run reached --out (nor, then, a snapshot): its
      // metrics go, its best is kept aside under another name, and the earlier
      // run's files come back, so that the earlier run's checkpoint at --out is
      // not left beside another run's best and metrics, and a retry does not
      // keep them aside in place of the earlier run's. (The run's own error is the
      // one to tell; a file that cannot go back stays where the note said.)
      try {
        rmSync(files.metrics, { force: true });
      } catch {
        // left as it is
      }
      // Its best checkpoint, a model worth keeping, goes under a name of its
      // own that the error gives. (A best written over the checkpoint this run
      // resumed from stays where it is: that file is this run's own.)
      if (wroteBest !== null && !(resumeFrom && sameFile(resumeFrom, files.best))) {
        try {
          keptBest = `; this run's best checkpoint (epoch ${wroteBest}) is kept as ${files.keepFailedBest()}`;
        } catch (err) {
          // (it stays where it is, and the earlier run's best stays aside: said, since the two runs' files now mix)
          keptBest = `; this run's best checkpoint (epoch ${wroteBest}) stays at ${files.best} (${(err as Error).message}), `
            + `the earlier run's at ${files.best}.bak`;
        }
      }
      for (const f of movedAside) {
        try {
          if (!existsSync(f)) renameSync(`${f}.bak`, f);
        } catch {
          // left aside
        }
      }
    }
    if (e instanceof NonFiniteError && files) {
      const where = saved ? `the checkpoint ${files.out} (${position(saved)}) is from before it` : 'no checkpoint of this run was saved before it';
      throw new NonFiniteError(`${e.message}; ${where}${keptBest}`);
    }
    if (keptBest && e instanceof Error) e.message += keptBest;
    throw e;
  }
  if (files && trainer.history.length > 0) {
    guard();
    try {
      writePlot(files.plot, [{ label: `${config.cell} ${config.hidden.join('x')}`, epochs: trainer.history }]);
    } catch (e) {
      throw outputError('plot', files.plot, e);
    }
  } else if (files) {
    // Stopped before its first epoch ended: the metrics file written at the start
    // to check it can be holds nothing, and goes (a resume writes it again).
    try {
      if (statSync(files.metrics).size === 0) rmSync(files.metrics);
    } catch {
      // (gone already, or not ours to remove: left as it is)
    }
  }
  // Data-parallel: the ranks end together, once rank 0's files are written; a
  // rank that ended first (a stop: exit 130 / 143) could make the launcher
  // kill rank 0 before its last checkpoint is on disk.
  world?.barrier();
  const ended = performance.now();
  const times = trainer.times;
  const parts = {
    data: dataSeconds,
    setup: (fitting - began) / 1000 - dataSeconds,
    training: times.steps,
    validation: times.validation,
    checkpoints: encodeSeconds + times.waits + drainSeconds,
  };
  const total = (ended - began) / 1000;
  const timings: RunTimings = {
    startedAt: performance.timeOrigin + began,
    ...parts,
    other: Math.max(0, total - Object.values(parts).reduce((a, b) => a + b, 0)),
    total,
  };
  return { history: trainer.history, model, tokenizer, seconds: (ended - start) / 1000, stopped, early: Boolean(early), state,
    stopSignal: trainer.stopSignal, timings, lineEnds };
}
