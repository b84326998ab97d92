// train(text, options): the library's one call for a run, on texts held in
// memory (no file is read or written unless `out` says so). The options are
// the command line's, by their camelCase names, with the same defaults and
// the same checks (src/train/settings.ts).
import { chooseThreads } from '../threads.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { InputError } from '../errors.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { RNNLM } from '../nn/rnnlm.js';
import { show } from '../validate.js';
import { runTraining, type RunSettings } from './run.js';
import { initFromSettings, libraryNaming, resolveRunSettings, type RunOptions } from './settings.js';
import type { EpochMetrics } from './trainer.js';

export interface TrainOptions extends RunOptions {
  /** After every epoch, its metrics. */
  onEpoch?: (m: EpochMetrics) => void;
  /** A warning (default: printed to stderr as "deeprnn: warning: ..."). */
  onWarning?: (message: string) => void;
  /** Notes of the run (an earlier run's files kept aside, a corpus downloaded). */
  log?: (message: string) => void;
}

export interface TrainResult {
  /** The trained model, its tokenizer set: model.save(path) keeps both. */
  model: RNNLM;
  tokenizer: Tokenizer;
  /** The metrics of every epoch. */
  history: EpochMetrics[];
  seconds: number;
  /** Ended by earlyStop. */
  early: boolean;
}

/** The texts of train(text): a non-empty string, or a non-empty array of them (joined with a newline). */
function checkTexts(text: unknown): string[] {
  const texts = typeof text === 'string' ? [text] : text;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string')) {
    throw new InputError(`text must be a string or a non-empty array of strings, got ${Array.isArray(text) && text.length === 0 ? '[]' : typeof text}`);
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
  if (typeof options !== 'object' || options === null) throw new InputError(`options must be an object, got ${show(options)}`);
  const texts = checkTexts(text);
  const naming = libraryNaming(options);
  const { onEpoch, onWarning, log, ...rest } = options;
  let s: RunSettings = resolveRunSettings(rest as Record<string, unknown>, naming, {
    corpus: texts.length === 1 ? ['(text)'] : texts.map((_, i) => `(text ${i + 1})`),
    out: options.out ?? null,
  });
  s = { ...s, text: texts, naming: 'library' };
  if (s.initFrom) s = initFromSettings(s, loadCheckpoint(s.initFrom).meta, s.initFrom, naming);
  const warn = onWarning ?? ((m: string) => process.stderr.write(`deeprnn: warning: ${m}\n`));
  if (s.threads !== undefined) {
    const threads = chooseThreads(s.threads);
    if (threads.note) warn(threads.note.replace(/^--threads/, 'threads'));
    s.threads = threads.threads;
  }
  const r = await runTraining(s, { onEpoch, warn, log });
  let model: RNNLM;
  if (r.model instanceof RNNLM) {
    model = r.model;
  } else {
    // The float64 reference (impl: 'scratch'): its weights in a native model, which saves and generates.
    model = new RNNLM(r.model.config);
    model.params.set(r.model.params);
  }
  model.tokenizer = r.tokenizer;
  return { model, tokenizer: r.tokenizer, history: r.history, seconds: r.seconds, early: r.early };
}
