// train(text, options): the library's one call for a run, on texts held in
// memory (no file is read or written unless `out` says so). The options are
// the command line's, by their camelCase names, with the same defaults and
// the same checks (src/train/settings.ts).
import { chooseThreads } from '../threads.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { InputError } from '../errors.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { RNNLM } from '../nn/rnnlm.js';
import { describe, isCollection, likelyName, show } from '../validate.js';
import { runTraining, type RunSettings, type RunTimings } from './run.js';
import { initFromSettings, libraryNaming, resolveRunSettings, type RunOptions } from './settings.js';
import { beginThreadedRun, outsideThreads, type EpochMetrics } from './trainer.js';
import { HYPER_KEYS, HYPERPARAMS } from './optim.js';

/** train()'s options as they are read (no null: a null is an option left out). */
interface TrainOptionsRead extends RunOptions {
  /** After every epoch, its metrics. */
  onEpoch?: (m: EpochMetrics) => void;
  /**
   * After every training batch: the epoch (from 1), batches done and in all, the batch's loss, training tokens
   * and seconds of training (the epoch line's tokens/s divides the two) so far this epoch.
   */
  onBatch?: (epoch: number, done: number, total: number, loss: number, tokens: number, seconds: number) => void;
  /** A warning (default: printed to stderr as "deeprnn: warning: ..."). */
  onWarning?: (message: string) => void;
  /** Notes of the run (an earlier run's files kept aside, a corpus downloaded). */
  log?: (message: string) => void;
}

/** The options of train(text, options): each may be left out, or null (the same: its default). */
export type TrainOptions = { [K in keyof TrainOptionsRead]?: TrainOptionsRead[K] | null };

export interface TrainResult {
  /** The trained model, its tokenizer set: model.save(path) keeps both. */
  model: RNNLM;
  tokenizer: Tokenizer;
  /** The metrics of every epoch. */
  history: EpochMetrics[];
  seconds: number;
  /** Ended by earlyStop. */
  early: boolean;
  /** Where the run's time went (data, setup, training, validation, checkpoints, other). */
  timings: RunTimings;
}

/**
 * The options typed as numbers (or lists and pairs of them). The command line
 * hands the settings strings; the library takes numbers, as its types say and
 * as generate() does (before, `epochs: '1'` and `hidden: '8'` ran).
 */
const NUMBER_OPTIONS: ReadonlySet<string> = new Set([
  'layers', 'hidden', 'dropout', 'epochs', 'batchSize', 'numSteps', 'numTrain', 'numVal', 'valFrac', 'lr', 'warmup',
  'lrDecay', 'lrDecayAfter', 'minLr', 'clip', 'earlyStop', 'seed', 'threads', 'minFreq', 'keep',
  ...HYPER_KEYS.filter((k) => HYPERPARAMS[k].type !== 'flag'),
]);

function refuseNumberStrings(options: Readonly<Record<string, unknown>>): void {
  for (const [key, v] of Object.entries(options)) {
    if (!NUMBER_OPTIONS.has(key) || !(typeof v === 'string' || (Array.isArray(v) && v.some((x) => typeof x === 'string')))) continue;
    const what = key === 'hidden' ? 'a number or a list of numbers' : HYPER_KEYS.includes(key as never) && HYPERPARAMS[key as keyof typeof HYPERPARAMS].type === 'pair' ? 'a pair of numbers' : 'a number';
    const str = Array.isArray(v) ? `${show(v.find((x) => typeof x === 'string'))} is a string` : 'a string';
    throw new InputError(`${key} must be ${what}, got ${show(v)} (${str})`);
  }
}

/** The texts of train(text): a non-empty string, or a non-empty array of them (joined with a newline). */
function checkTexts(text: unknown): string[] {
  const texts = typeof text === 'string' ? [text] : text;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string')) {
    const items: unknown[] = Array.isArray(texts) ? texts : [];
    const bad = items.findIndex((t) => typeof t !== 'string');
    const got = !Array.isArray(text) ? typeof text : text.length === 0 ? '[]' : `an array whose item ${bad} is ${typeof items[bad]}`;
    throw new InputError(`text must be a string or a non-empty array of strings, got ${got}`);
  }
  texts.forEach((t: string, i) => {
    if (t.length === 0) throw new InputError(`${texts.length > 1 ? `text[${i}]` : 'text'} is empty`);
  });
  return texts as string[];
}

/**
 * Trains a model on `text` (a string, or strings joined with a newline) and
 * returns it with its tokenizer. Every option is checked before any work, as
 * the command line checks its own (`layers must be an integer from 1 to 64,
 * got 0`); options left out take the command line's defaults (the book's
 * run). With `out`, checkpoints with the training state are written as
 * `deeprnn train --out` writes them; with `initFrom`, the run starts from a
 * checkpoint's weights, model and tokenizer (fine-tuning).
 */
export async function train(text: string | readonly string[], options: TrainOptions = {}): Promise<TrainResult> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new InputError(`options must be an object, got ${show(options)}`);
  // (before, a Map's entries, which are no keys, were not read: the book's defaults ran)
  if (isCollection(options)) throw new InputError(`options must be a plain object ({ epochs: 3, ... }), got ${describe(options)}`);
  // null is a left-out option, as undefined is (as None is to a Python keyword): its default, for every
  // option alike (before, some nulls took the default, others were refused, and precision: null ran fp32 unchecked)
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== null)) as TrainOptionsRead;
  const texts = checkTexts(text);
  const naming = libraryNaming(given, options);
  const { onEpoch, onBatch, onWarning, log, out, ...rest } = given;
  refuseNumberStrings(rest);
  for (const [key, hook] of Object.entries({ onEpoch, onBatch, onWarning, log })) {
    if (hook !== undefined && typeof hook !== 'function') throw new InputError(`${key} must be a function, got ${show(hook)}`);
  }
  // The settings read every option they know: one they did not read is unknown (a typo, or the command line's alone).
  const read = new Set<string | symbol>();
  const seen = new Proxy(rest as Record<string, unknown>, { get: (t, k) => (read.add(k), t[k as string]) });
  let s: RunSettings = resolveRunSettings(seen, naming, {
    corpus: texts.length === 1 ? ['(text)'] : texts.map((_, i) => `(text ${i + 1})`),
    out: out ?? null,
  });
  const unknown = Object.keys(rest).filter((k) => !read.has(k) && (rest as Record<string, unknown>)[k] !== undefined);
  if (unknown.length) {
    const known = [...read].filter((k): k is string => typeof k === 'string').concat(['out', 'onEpoch', 'onBatch', 'onWarning', 'log']);
    const k = unknown[0]!;
    const like = likelyName(k, known);
    throw new InputError(`unknown option ${k}${like ? ` (did you mean ${like}?)` : k === 'corpus' || k === 'resume' ? ' (train(text) trains on the text it is given, from the start or from initFrom)' : ''}`);
  }
  if (!out) {
    // saveEvery by its value (1, '1' and '1 ' are the default alike)
    const every = s.saveEvery ?? { epochs: 1 };
    const changed = { keep: naming.given('keep'), saveEvery: !('epochs' in every && every.epochs === 1), saveDtype: naming.given('saveDtype') };
    for (const key of ['keep', 'saveEvery', 'saveDtype'] as const) {
      if (changed[key]) throw new InputError(`${key} applies to out (the run's checkpoints): without out nothing is written`);
    }
  }
  s = { ...s, text: texts, naming: 'library' };
  if (s.initFrom) s = initFromSettings(s, loadCheckpoint(s.initFrom).meta, s.initFrom, naming);
  const warn = onWarning ?? ((m: string) => process.stderr.write(`deeprnn: warning: ${m}\n`));
  if (s.threads !== undefined) {
    const threads = chooseThreads(s.threads);
    if (threads.note) warn(threads.note.replace(/^--threads/, 'threads'));
    s.threads = threads.threads;
  }
  // threads is this run's, set before each of its batches: runs (train() calls,
  // Trainer fits) may overlap, and a run without threads keeps the count the
  // process had outside every run, within the cores (said by no warning: no
  // option asked for it), which is put back when the last run ends or fails.
  const end = beginThreadedRun();
  s.threads ??= chooseThreads(outsideThreads(), {}).threads;
  let r: Awaited<ReturnType<typeof runTraining>>;
  try {
    r = await runTraining(s, { onEpoch, onBatch, warn, log });
  } finally {
    end();
  }
  let model: RNNLM;
  if (r.model instanceof RNNLM) {
    model = r.model;
  } else {
    // The float64 reference (impl: 'scratch'): its weights in a native model, which saves and generates.
    model = new RNNLM(r.model.config);
    model.params.set(r.model.params);
  }
  model.tokenizer = r.tokenizer;
  model.lineEnds = r.lineEnds;
  return { model, tokenizer: r.tokenizer, history: r.history, seconds: r.seconds, early: r.early, timings: r.timings };
}
