// The settings of a training run from what a caller gives: the command line
// (strings, as typed) and the library (numbers, arrays) go through the same
// checks, with the same defaults and the same messages, each option named as
// its caller names it (--batch-size, batchSize).
import { PRECISIONS, type CellKind, type Precision } from '../native.js';
import { CELLS, MAX_HIDDEN, MAX_LAYERS, type ModelConfig } from '../nn/config.js';
import { TOKENIZERS, type TokenizerJSON, type TokenizerKind } from '../data/tokenizer.js';
import { MAX_NUM_STEPS, type Batching } from '../data/datamodule.js';
import { InputError } from '../errors.js';
import { choice, flag, integer, list, number, show, text, type Naming } from '../validate.js';
import {
  HYPER_KEYS, HYPERPARAMS, hasHyper, OPTIMIZER_SPECS, OPTIMIZERS, optimizerSpec, optimizersWith,
  type HyperKey, type HyperValues, type OptimizerKind, type OptimizerSettings,
} from './optim.js';
import { SCHEDULE_READS, SCHEDULES, schedulesWith, type ScheduleKind, type ScheduleSetting } from './schedule.js';
import type { RunSettings } from './run.js';

/** The most epochs a run may have in all (every checkpoint holds the history of each). */
export const MAX_EPOCHS = 100_000;

/**
 * A run's options as the library takes them; every one may be left out (see
 * RUN_DEFAULTS). The optimizer's hyperparameters (momentum, dampening,
 * nesterov, betas, eps, weightDecay, alpha) are those of OPTIMIZER_SPECS, with
 * its defaults: each applies to the optimizers that have it.
 */
export interface RunOptions extends Partial<HyperValues> {
  /** Recurrent cell (default gru). */
  cell?: CellKind;
  /** Stacked layers (default 2). */
  layers?: number;
  /** Hidden units of every layer, or one size per layer (default 32). */
  hidden?: number | number[];
  /** Dropout between layers, training only (default 0). */
  dropout?: number;
  epochs?: number;
  batchSize?: number;
  numSteps?: number;
  /** Training and validation windows (the book's split; default 10000 and 5000). */
  numTrain?: number;
  numVal?: number;
  /** Validate on this fraction at the end of the text instead of numTrain / numVal. */
  valFrac?: number;
  batching?: Batching;
  /** Learning rate (default: 2 for sgd, the book's; 0.001 for adam and adamw, 0.01 for rmsprop, PyTorch's). */
  lr?: number;
  optimizer?: OptimizerKind;
  lrSchedule?: ScheduleKind;
  warmup?: number;
  lrDecay?: number;
  lrDecayAfter?: number;
  minLr?: number;
  /** Gradient clipping threshold (default 1; 0 turns it off). */
  clip?: number;
  clipMode?: 'norm' | 'value';
  earlyStop?: number;
  seed?: number;
  /** OpenMP threads of this run (capped at the cores; the library's train() puts the process's count back when it ends). */
  threads?: number;
  tokenizer?: TokenizerKind;
  minFreq?: number;
  dataDir?: string;
  /** Checkpoint to write (with the training state, the best beside it, metrics and plot); none when left out in the library. */
  out?: string | null;
  /** Save every N epochs (a number), or every N optimizer steps ("Ns"). */
  saveEvery?: number | string;
  keep?: number;
  skipNonFinite?: boolean;
  impl?: 'native' | 'scratch';
  /** The matrix products' arithmetic: fp32, or bf16 operands with float32 sums (native impl only). */
  precision?: Precision;
  /** How checkpoints store the weights: fp32, or bf16 (BF16 safetensors, half the size; the rest stays float32). */
  saveDtype?: Precision;
  /** Start from the weights, model and tokenizer of this checkpoint (fine-tuning), with a fresh optimizer and schedule. */
  initFrom?: string;
  /** With initFrom: refuse a text with tokens outside the checkpoint's vocabulary instead of reading them as <unk>. */
  strict?: boolean;
}

/** The defaults of the command line and the library alike (the book's run). */
export const RUN_DEFAULTS = {
  cell: 'gru',
  layers: 2,
  hidden: 32,
  dropout: 0,
  epochs: 100,
  batchSize: 1024,
  numSteps: 32,
  numTrain: 10_000,
  numVal: 5_000,
  batching: 'random',
  optimizer: 'sgd',
  lrSchedule: 'constant',
  warmup: 0,
  lrDecay: 0.97,
  lrDecayAfter: 10,
  minLr: 0,
  clip: 1,
  clipMode: 'norm',
  seed: 42,
  saveEvery: 1,
  keep: 0,
  impl: 'native',
  precision: 'fp32',
  saveDtype: 'fp32',
} as const satisfies Partial<Record<keyof RunOptions, unknown>>;

/**
 * The library's naming: options by their keys, given when present, as the
 * command line's are given when written (`{ layers: 2, hidden: [8, 8, 8] }` is
 * refused as `--layers 2 --hidden 8,8,8` is; before, a value equal to the
 * default counted as left out, and the three layers were trained). Options
 * that name at least half of RUN_DEFAULTS' keys, as `written` (before nulls
 * are dropped) spells them, are a spread of it (`{ ...RUN_DEFAULTS, ... }`, a
 * few keys taken out or set to null) or a whole configuration: there a value
 * equal to the default is not given (a spread names nothing it does not change).
 */
export function libraryNaming(o: object, written: object = o): Naming {
  const defaults: Readonly<Record<string, unknown>> = RUN_DEFAULTS;
  const options = o as Record<string, unknown>;
  const keys = Object.keys(defaults);
  const spread = keys.filter((k) => k in written).length * 2 >= keys.length;
  return {
    name: (k) => k,
    given: (k) => {
      const v = options[k];
      return v !== undefined && !(spread && k in defaults && v === defaults[k]);
    },
  };
}

export function parseSaveEvery(name: string, raw: unknown): RunSettings['saveEvery'] {
  const m = typeof raw === 'number' ? [String(raw), String(raw), ''] : typeof raw === 'string' ? /^\s*(\d+)\s*(s?)\s*$/.exec(raw) : null;
  const n = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(n) || n < 1) {
    throw new InputError(`${name} must be a number of epochs (e.g. 5) or of steps (e.g. 200s), got ${show(raw)}`);
  }
  return m[2] ? { steps: n } : { epochs: n };
}

/** The option of each schedule setting that not every schedule reads. */
const SCHEDULE_OPTIONS: Record<ScheduleSetting, string> = { decay: 'lrDecay', decayAfter: 'lrDecayAfter', minLr: 'minLr' };

/**
 * Checks every option and fills in the defaults. `o` holds the caller's
 * values by key (strings from the command line, numbers from a program);
 * `corpus` and `out` are the caller's to set. Throws an InputError naming the
 * first option that is wrong, what was expected and what was received.
 */
export function resolveRunSettings(o: Readonly<Record<string, unknown>>, n: Naming, where: { corpus: string[]; out: string | null }): RunSettings {
  const { name, given } = n;
  const v = (k: string) => o[k] ?? (RUN_DEFAULTS as Record<string, unknown>)[k];
  if (where.out !== null) text(name('out'), where.out);
  if (given('valFrac') && (given('numTrain') || given('numVal'))) {
    throw new InputError(`${name('valFrac')} splits by fraction: give it or ${name('numTrain')} / ${name('numVal')}, not both`);
  }
  const sizes = list(name('hidden'), v('hidden'), `a size or a list of 1 to ${MAX_LAYERS} sizes`);
  if (sizes.length === 0 || sizes.length > MAX_LAYERS) {
    throw new InputError(`${name('hidden')} must be a size or a list of 1 to ${MAX_LAYERS} sizes, got ${show(v('hidden'))}`);
  }
  const hidden = sizes.map((h) => integer(name('hidden'), h, 1, MAX_HIDDEN));
  const layers = integer(name('layers'), v('layers'), 1, MAX_LAYERS);
  if (hidden.length > 1 && given('layers') && hidden.length !== layers) {
    throw new InputError(`${name('hidden')} lists ${hidden.length} sizes but ${name('layers')} is ${layers}; give one size, or one per layer`);
  }
  const optimizer = resolveOptimizer(o, n);
  const lr = o.lr === undefined ? OPTIMIZER_SPECS[optimizer.kind].lr : number(name('lr'), o.lr, (x) => x > 0, 'a positive number');
  // The floor of the decayed rate and the end of the cosine: above the rate it would raise it.
  const minLr = number(name('minLr'), v('minLr'), (x) => x >= 0 && x <= lr, `a number from 0 to the learning rate (${name('lr')} ${lr})`);
  const optional = <T>(key: string, f: (raw: unknown) => T): T | undefined => (o[key] === undefined ? undefined : f(o[key]));
  const corpus = where.corpus;
  if (corpus.length === 0 || !corpus.every((c) => typeof c === 'string')) {
    throw new InputError(`${name('corpus')} must list corpus names, files or directories, got ${show(corpus)}`);
  }
  const settings = {
    cell: choice(name('cell'), v('cell'), CELLS),
    layers: hidden.length > 1 ? hidden.length : layers,
    hidden,
    optimizer,
    schedule: {
      kind: choice(name('lrSchedule'), v('lrSchedule'), SCHEDULES),
      warmup: integer(name('warmup'), v('warmup'), 0, 1_000_000_000),
      decay: number(name('lrDecay'), v('lrDecay'), (x) => x > 0 && x <= 1, 'a number in (0, 1]'),
      decayAfter: integer(name('lrDecayAfter'), v('lrDecayAfter'), 1, 1_000_000),
      minLr,
    },
    clipMode: choice(name('clipMode'), v('clipMode'), ['norm', 'value'] as const),
    earlyStop: optional('earlyStop', (raw) => integer(name('earlyStop'), raw, 1, 1_000_000)),
    dropout: number(name('dropout'), v('dropout'), (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    // Each epoch adds a line of history to every checkpoint: 100,000 of them stay well within the header limit.
    epochs: integer(name('epochs'), v('epochs'), 1, MAX_EPOCHS),
    batchSize: integer(name('batchSize'), v('batchSize'), 1, 10_000_000),
    numSteps: integer(name('numSteps'), v('numSteps'), 1, MAX_NUM_STEPS),
    numTrain: integer(name('numTrain'), v('numTrain'), 1, 1_000_000_000),
    numVal: integer(name('numVal'), v('numVal'), 1, 1_000_000_000),
    lr,
    clip: number(name('clip'), v('clip'), (x) => x >= 0, 'a number >= 0 (0 turns clipping off)'),
    seed: integer(name('seed'), v('seed'), 0, 4294967295),
    threads: optional('threads', (raw) => integer(name('threads'), raw, 1, 1024)),
    corpus,
    tokenizer: optional('tokenizer', (raw) => choice(name('tokenizer'), raw, TOKENIZERS)),
    minFreq: optional('minFreq', (raw) => integer(name('minFreq'), raw, 1, 1_000_000_000)),
    batching: choice(name('batching'), v('batching'), ['random', 'sequential'] as const),
    valFrac: optional('valFrac', (raw) => number(name('valFrac'), raw, (x) => x > 0 && x < 1, 'a number in (0, 1)')) ?? null,
    dataDir: optional('dataDir', (raw) => text(name('dataDir'), raw, 'a directory')),
    out: where.out,
    impl: choice(name('impl'), v('impl'), ['native', 'scratch'] as const),
    precision: choice(name('precision'), v('precision'), PRECISIONS),
    saveDtype: choice(name('saveDtype'), v('saveDtype'), PRECISIONS),
    saveEvery: parseSaveEvery(name('saveEvery'), v('saveEvery')),
    keep: integer(name('keep'), v('keep'), 0, 1_000_000),
    skipNonFinite: flag(name('skipNonFinite'), o.skipNonFinite),
    initFrom: optional('initFrom', (raw) => text(name('initFrom'), raw, 'a checkpoint path')),
    strict: flag(name('strict'), o.strict),
  };
  if (!settings.initFrom) refuseIdleDropout(n, settings.dropout, settings.layers);
  if (settings.strict && !settings.initFrom) {
    throw new InputError(`${name('strict')} applies to ${name('initFrom')} (a checkpoint's vocabulary reading a new corpus)`);
  }
  // (before, taken and never read: clipping is off at 0)
  if (given('clipMode') && settings.clip === 0) {
    throw new InputError(`${name('clipMode')} applies when clipping is on (${name('clip')} above 0), got ${name('clip')} 0`);
  }
  // A schedule setting the chosen schedule does not read is an error, as an optimizer's hyperparameter is.
  const kind = settings.schedule.kind;
  for (const [setting, key] of Object.entries(SCHEDULE_OPTIONS) as [ScheduleSetting, string][]) {
    if (given(key) && !SCHEDULE_READS[kind].includes(setting)) {
      throw new InputError(`${name(key)} applies to ${name('lrSchedule')} ${schedulesWith(setting).join('|')}, not ${kind}`);
    }
  }
  return settings;
}

/** A hyperparameter's value as the caller gives it (a string as typed, or a program's value), checked against its range. */
function parseHyper(key: HyperKey, raw: unknown, label: string): HyperValues[HyperKey] {
  const p = HYPERPARAMS[key];
  if (p.type === 'flag') return flag(label, raw);
  if (p.type === 'number') return number(label, raw, p.check!, p.expected!);
  // (a wrong number is named with the whole value: "--betas 1,0.9", not "1")
  const pair = list(label, raw, p.expected!).map((x) => {
    try {
      return number(label, x, p.check!, p.expected!);
    } catch (e) {
      // (keeping why, when there is more to say than the range: a number below a double's smallest)
      const why = e instanceof InputError ? /, which is below .*$/.exec(e.message)?.[0] ?? '' : null;
      if (why !== null) throw new InputError(`${label} must be ${p.expected}, got ${show(raw)}${why.replace(', which', `: ${show(x)} is a number that`)}`);
      throw e;
    }
  });
  if (pair.length !== 2) throw new InputError(`${label} must be ${p.expected}, got ${show(raw)}`);
  return [pair[0]!, pair[1]!];
}

/**
 * The optimizer and the hyperparameters the caller gave, each checked as its
 * spec says: one the optimizer does not have is an error, and so is a
 * combination its update does not allow. Those left out take the spec's
 * defaults when the optimizer is made.
 */
function resolveOptimizer(o: Readonly<Record<string, unknown>>, n: Naming): Omit<OptimizerSettings, 'lr'> {
  const { name, given } = n;
  const kind = choice(name('optimizer'), o.optimizer ?? RUN_DEFAULTS.optimizer, OPTIMIZERS);
  for (const key of HYPER_KEYS) {
    if (given(key) && !hasHyper(kind, key)) {
      throw new InputError(`${name(key)} applies to ${name('optimizer')} ${optimizersWith(key).join('|')}, not ${kind}`);
    }
  }
  const settings: Omit<OptimizerSettings, 'lr'> = { kind };
  for (const key of HYPER_KEYS) {
    if (o[key] !== undefined) (settings as Record<HyperKey, unknown>)[key] = parseHyper(key, o[key], name(key));
  }
  const spec = optimizerSpec(kind);
  const conflict = spec.conflict?.({ ...spec.hyper, ...settings } as HyperValues, name);
  if (conflict) throw new InputError(conflict);
  return settings;
}

/**
 * Dropout acts between layers (not after the last), so a dropout given for
 * one layer would change nothing: an error, as other options that do not
 * apply are (0, the default, is no dropout anywhere).
 */
function refuseIdleDropout(n: Naming, dropout: number, layers: number): void {
  if (layers === 1 && n.given('dropout') && dropout > 0) {
    throw new InputError(`${n.name('dropout')} ${dropout} applies between layers (not after the last), and the model has 1 layer: `
      + `leave ${n.name('dropout')} out, or use 2 or more layers`);
  }
}

/** The options that describe the model and its tokenizer: a checkpoint fine-tuned keeps them. */
const MODEL_OPTIONS = ['cell', 'layers', 'hidden', 'tokenizer', 'minFreq'] as const;

/**
 * Settings to fine-tune the model of a checkpoint (`file`, with metadata
 * `meta`): the checkpoint's cell, layers, hidden sizes and tokenizer, and
 * its dropout unless the caller gave one. An option the caller gave that
 * contradicts the checkpoint is an error that names both.
 */
export function initFromSettings(
  s: RunSettings,
  meta: { config: ModelConfig; tokenizer: TokenizerJSON; precision?: Precision; training?: { precision?: Precision } },
  file: string,
  n: Naming,
): RunSettings {
  const c = meta.config;
  const layers = n.given('layers') ? s.layers : c.hidden.length;
  const hidden = s.hidden.length === 1 ? Array.from({ length: layers }, () => s.hidden[0]!) : s.hidden;
  const minFreq = meta.tokenizer.minFreq ?? 1;
  const theirs: Record<(typeof MODEL_OPTIONS)[number], { ours: unknown; theirs: unknown; what: string }> = {
    cell: { ours: s.cell, theirs: c.cell, what: `cell ${c.cell}` },
    layers: { ours: s.layers, theirs: c.hidden.length, what: `${c.hidden.length} layer${c.hidden.length > 1 ? 's' : ''}` },
    hidden: { ours: hidden.join(','), theirs: c.hidden.join(','), what: `hidden sizes ${c.hidden.join(',')}` },
    tokenizer: { ours: s.tokenizer, theirs: meta.tokenizer.kind, what: `tokenizer ${meta.tokenizer.kind}` },
    minFreq: { ours: s.minFreq, theirs: minFreq, what: `min-freq ${minFreq}` },
  };
  if (n.given('minFreq') && meta.tokenizer.kind !== 'word' && s.minFreq !== undefined && s.minFreq !== 1) {
    throw new InputError(`${n.name('minFreq')} applies to the word tokenizer only, and ${n.name('initFrom')} ${file} reads text with its `
      + `${meta.tokenizer.kind} tokenizer: leave ${n.name('minFreq')} out`);
  }
  for (const key of MODEL_OPTIONS) {
    const t = theirs[key];
    if (n.given(key) && t.ours !== undefined && String(t.ours) !== String(t.theirs)) {
      const given = key === 'hidden' ? s.hidden.join(',') : String(t.ours);
      throw new InputError(
        `${n.name(key)} ${given} contradicts ${n.name('initFrom')} ${file}, whose model has ${t.what}; fine-tuning keeps the checkpoint's `
          + `model and tokenizer: leave ${n.name(key)} out or give ${String(t.theirs)}`,
      );
    }
  }
  refuseIdleDropout(n, s.dropout, c.hidden.length);
  return {
    ...s,
    cell: c.cell,
    layers: c.hidden.length,
    hidden: [...c.hidden],
    dropout: n.given('dropout') ? s.dropout : c.dropout,
    // the precision it was trained in, as predict and eval follow it (before, a bf16 model was fine-tuned in fp32 without a word)
    // (the float64 reference has no bf16: with impl scratch the run's own precision stands)
    precision: n.given('precision') || s.impl === 'scratch' ? s.precision : (meta.training?.precision ?? meta.precision ?? s.precision),
    tokenizer: meta.tokenizer.kind,
    minFreq: meta.tokenizer.kind === 'word' ? minFreq : undefined,
  };
}
