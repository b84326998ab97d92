// deeprnn eval CKPT --corpus ...: perplexity, bits per token and accuracy of a
// checkpoint on any text, read with the checkpoint's own tokenizer; with
// thresholds and baselines for perplexity regression runs in CI.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { corpusRegistry, looksLikeCheckpoint, resolveDataDir, type LineEnds } from '../data/corpus.js';
import { MAX_NUM_STEPS } from '../data/datamodule.js';
import { loadCorpusTokens } from '../data/load.js';
import { TOKENIZERS, type TokenArray, type TokenizerKind } from '../data/tokenizer.js';
import { InputError } from '../errors.js';
import { plural, terminalSafe, text } from '../validate.js';
import { checkpointLineEnds, hasTrainingState, loadCheckpoint, type Checkpoint } from '../io/checkpoint.js';
import { checkWritable, refuseOverwrite, removeStaleTemps, sameFile, writeFileAtomic, type FileRole } from '../io/files.js';
import { native } from '../native.js';
import { differentKernels, finalizeMpi, kernelRounding, mpiWorld, ranksDiffer, type World } from '../mpi.js';
import { evaluateTokens, type EvalMetrics } from '../train/evaluate.js';
import { corpusFiles } from '../train/run-files.js';
import { UsageError } from './errors.js';
import { addOptions, bf16Note, formatOptions, intOption, numberOption, option, outputFormat, precisionOption, requiredOption, threadsOption } from './options.js';
import { checkpointPath, modelOption } from './defaults.js';
import { emit, renderRecords, warn, type Column } from './output.js';
import { formatNumber } from './table.js';

/** Tokens per chunk for a checkpoint saved without training settings (RNNLM.save): the book's. */
export const DEFAULT_EVAL_STEPS = 32;

/** Above this fraction of unknown tokens a corpus's perplexity gets a warning: it measures mostly "<unk>". */
export const UNKNOWN_WARNING = 0.05;

interface RawEvalOptions {
  model: string;
  corpus: string[];
  dataDir?: string;
  numSteps?: string;
  batchSize: string | number;
  threads?: string;
  precision?: string;
  maxPpl?: string;
  maxUnk?: string;
  baseline?: string;
  tolerance: string | number;
  writeBaseline?: string;
}

interface Baseline {
  version: 1;
  checkpoint: string;
  /** The checkpoint's tokenizer and vocabulary size (baselines written before they were recorded have neither). */
  tokenizer?: TokenizerKind;
  vocabSize?: number;
  /**
   * The sha1 of the vocabulary's tokens (JSON, in id order): two word or char
   * vocabularies of one size are other tokens all the same (baselines written
   * before it was recorded have none).
   */
  vocabSha1?: string;
  results: Record<string, EvalMetrics>;
}

/** What Baseline.vocabSha1 holds for a vocabulary. */
const vocabSha1 = (tokens: readonly string[]) => createHash('sha1').update(JSON.stringify(tokens)).digest('hex');

/** The most bytes a file --write-baseline may replace has: a baseline is a few lines of JSON. */
const BASELINE_MAX_BYTES = 1 << 20;

/**
 * An existing file at --write-baseline that is no baseline (a checkpoint,
 * a user's notes) is not replaced: before, it was, without a word.
 */
function refuseForeignBaseline(file: string): void {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile() || st.size === 0) return; // (checkWritable names what is in the way; an empty file holds nothing)
    text = st.size > BASELINE_MAX_BYTES ? '' : readFileSync(file, 'utf8');
  } catch {
    return; // none there (or unreadable: the write will say so)
  }
  let b: unknown;
  try {
    b = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    b = undefined;
  }
  const base = b as { version?: unknown; results?: unknown } | undefined;
  if (base && typeof base === 'object' && typeof base.version === 'number' && base.results && typeof base.results === 'object') return;
  throw new UsageError(`--write-baseline ${file} would replace a file that is not a baseline (a JSON object with "version" and "results", `
    + 'as --write-baseline writes): move it away, or choose another path');
}

function readBaseline(file: string): Baseline {
  if (!existsSync(file)) throw new InputError(`--baseline ${file} does not exist (write one with --write-baseline)`);
  if (!statSync(file).isFile()) throw new InputError(`--baseline ${file} is not a regular file (expected the JSON file that --write-baseline writes)`);
  let b: unknown;
  try {
    // (a byte order mark, as some editors write one, is not part of the JSON)
    b = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  } catch {
    throw new InputError(`--baseline ${file} is not JSON`);
  }
  const base = b as Partial<Baseline> | null;
  if (base && typeof base === 'object' && typeof base.version === 'number' && base.version > 1) {
    throw new InputError(`--baseline ${file} is of baseline version ${base.version}, newer than this deeprnn reads (1); upgrade deeprnn`);
  }
  // What is wrong, named, before what a baseline holds.
  const show = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v));
  const wrong = (() => {
    if (!base || typeof base !== 'object' || Array.isArray(base)) return 'it is not a JSON object';
    if (base.version !== 1) return `its "version" is ${show(base.version)}`;
    if (!base.results || typeof base.results !== 'object' || Array.isArray(base.results)) return `its "results" is ${show(base.results)}, not an object`;
    for (const [corpus, r] of Object.entries(base.results)) {
      if (!r || typeof r !== 'object') return `its result for ${JSON.stringify(corpus)} is ${show(r)}, not an object`;
      if (typeof r.perplexity !== 'number') return `the "perplexity" of ${JSON.stringify(corpus)} is ${show(r.perplexity)}, not a number`;
    }
    if (base.tokenizer !== undefined && !TOKENIZERS.includes(base.tokenizer)) return `its "tokenizer" is ${show(base.tokenizer)}`;
    if (base.vocabSize !== undefined && !(Number.isInteger(base.vocabSize) && base.vocabSize >= 1)) {
      return `its "vocabSize" is ${show(base.vocabSize)}, not a positive integer`;
    }
    if (base.vocabSha1 !== undefined && !(typeof base.vocabSha1 === 'string' && /^[0-9a-f]{40}$/.test(base.vocabSha1))) {
      return `its "vocabSha1" is ${show(base.vocabSha1)}, not a sha1 in hex`;
    }
    return null;
  })();
  if (wrong !== null || !base) {
    throw new InputError(`--baseline ${file} is not a deeprnn baseline: ${wrong} (expected {"version": 1, "tokenizer": ${TOKENIZERS.map((t) => `"${t}"`).join('|')}, `
      + `"vocabSize": n, "results": {corpus: {"perplexity": ...}}})`);
  }
  // (an infinite one would pass every run; one below 1 is no model's)
  for (const [corpus, r] of Object.entries((base as Baseline).results)) {
    if (!Number.isFinite(r.perplexity) || r.perplexity < 1) {
      throw new InputError(`--baseline ${file}: the perplexity of ${corpus} must be a finite number of 1 or more, got ${r.perplexity}`);
    }
  }
  return base as Baseline;
}

const percent = (f: number) => `${(100 * f).toFixed(1)}%`;

/** A corpus's row: its name and its metrics. */
export type EvalRow = { corpus: string } & EvalMetrics;

const EVAL_COLUMNS: Column<EvalRow>[] = [
  { key: 'corpus', header: 'corpus' },
  { key: 'tokens', header: 'tokens' },
  { key: 'loss', header: 'loss', text: (r) => formatNumber(r.loss) },
  { key: 'perplexity', header: 'perplexity', text: (r) => formatNumber(r.perplexity) },
  { key: 'bitsPerToken', header: 'bits/token', text: (r) => formatNumber(r.bitsPerToken) },
  { key: 'accuracy', header: 'accuracy', text: (r) => formatNumber(r.accuracy, 4) },
  { key: 'unknownRate', header: 'unknown', text: (r) => percent(r.unknownRate ?? 0) },
];
/** The text table leaves the loss out: perplexity and bits per token say it. */
const EVAL_TEXT_COLUMNS = EVAL_COLUMNS.filter((c) => c.key !== 'loss');

/** What the ranks of an eval compare before they sum (FAILED: a rank that failed before). */
const EVAL_FAILED = 'a rank that failed';

/**
 * The ranks' first sum: stops every rank, with one message, when they were
 * given other texts (by their tokens: paths may differ), another checkpoint or
 * other settings, or when one of them failed before it; warns (rank 0) when
 * they round differently.
 */
function agreeEval(world: World, mine: { texts: { tokens: TokenArray }[]; ck: Checkpoint; numSteps: number; batchSize: number; checks: unknown } | null): void {
  const digest = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');
  const parts: [string, string | Float32Array][] = mine ? [
    // (the checks that decide the exit code too: before, a rank given --max-ppl alone exited 1 without a word)
    ['the settings', JSON.stringify({ numSteps: mine.numSteps, batchSize: mine.batchSize, precision: mine.ck.model.precision, texts: mine.texts.length,
      checks: mine.checks })],
    ['the texts', mine.texts.map(({ tokens }) => `${tokens.length}:${digest(new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength))}`).join(' ')],
    ['the checkpoint', `${JSON.stringify(mine.ck.meta.config)} ${JSON.stringify(mine.ck.tokenizer.toJSON())} `
      + digest(new Uint8Array(mine.ck.model.params.buffer, mine.ck.model.params.byteOffset, mine.ck.model.params.byteLength))],
    ['the kernels', kernelRounding(mine.ck.model.precision).key],
  ] : ['the settings', 'the texts', 'the checkpoint', 'the kernels'].map((name) => [name, '']);
  const differ = ranksDiffer(world, [...parts, [EVAL_FAILED, mine ? 'no' : 'yes']]);
  if (!mine) return;
  if (differ.includes(EVAL_FAILED)) {
    throw new InputError('another rank of this job stopped with an error before evaluating (its message says why): every rank stops here');
  }
  const rest = differ.filter((d) => d !== 'the kernels');
  if (rest.length) {
    throw new InputError(`the ranks of this job differ in ${rest.join(', ')}: start every rank with the same command, the same corpus and the same checkpoint`);
  }
  if (differ.includes('the kernels') && world.rank === 0) {
    warn(differentKernels(mine.ck.model.precision, 'the metrics are sound, but not'));
  }
}

export function registerEval(program: Command): void {
  const command = program
    .command('eval')
    .description("perplexity, bits per token and next-token accuracy of a checkpoint on texts, read with its tokenizer")
    .argument('[checkpoint]', 'the same as --model')
    .addOption(modelOption())
    .addOption(requiredOption('--corpus <name|file|dir...>', 'corpora to evaluate on, each reported on its own'))
    .addOption(option('--data-dir <dir>', 'where registry corpora are cached (default: $DEEPRNN_DATA_DIR, else $XDG_CACHE_HOME/deeprnn or ~/.cache/deeprnn)'))
    .addOption(option('--num-steps <n>', `tokens per chunk of the carried-state pass (default: the checkpoint's, else ${DEFAULT_EVAL_STEPS})`))
    .addOption(option('--batch-size <n>', 'parallel streams', 64))
    .addOption(option('--threads <n>', 'threads (default: OMP_NUM_THREADS, else the cores this process may use)'))
    .addOption(option('--precision <p>', "the matrix products' arithmetic, fp32 or bf16 (default: the checkpoint's training precision)"))
    .addOption(option('--max-ppl <x>', 'exit 1 when the perplexity on any corpus exceeds x'))
    .addOption(option('--max-unk <f>', 'exit 1 when the fraction of unknown (<unk>) tokens in any corpus exceeds f'))
    .addOption(option('--baseline <file>', 'exit 1 when the perplexity on a corpus exceeds the baseline\'s by more than --tolerance'))
    .addOption(option('--tolerance <r>', 'relative tolerance against --baseline', 0.02))
    .addOption(option('--write-baseline <file>', 'write these results as a baseline'));
  addOptions(command, formatOptions(['text', 'json', 'csv'], 'one row per corpus'))
    .action(async (argument: string | undefined, raw: RawEvalOptions, cmd: Command) => {
      const format = outputFormat(cmd, ['text', 'json', 'csv']);
      // `eval --corpus t.txt m.safetensors`: --corpus takes every word after it, the checkpoint too, and the
      // default checkpoint is read (before: "checkpoints/deeprnn.safetensors does not exist", or a corpus refused as binary).
      const misplaced = argument === undefined && cmd.getOptionValueSource('model') !== 'cli'
        ? (raw.corpus as string[]).find((c) => !corpusRegistry().has(c) && looksLikeCheckpoint(c)) : undefined;
      if (misplaced !== undefined) {
        throw new UsageError(`--corpus ${misplaced} is a checkpoint, not a text (--corpus takes every word after it): `
          + `name it with --model ${misplaced}, or give it before --corpus`);
      }
      const file = checkpointPath(argument, cmd);
      const batchSize = intOption('--batch-size', raw.batchSize, 1, 1_000_000);
      const maxPpl = raw.maxPpl === undefined ? undefined : numberOption('--max-ppl', raw.maxPpl, (v) => v >= 1, 'a number >= 1');
      const maxUnk = raw.maxUnk === undefined ? undefined : numberOption('--max-unk', raw.maxUnk, (v) => v >= 0 && v <= 1, 'a fraction in [0, 1]');
      const tolerance = numberOption('--tolerance', raw.tolerance, (v) => v >= 0, 'a number >= 0');
      if (cmd.getOptionValueSource('tolerance') === 'cli' && raw.baseline === undefined) {
        throw new UsageError("--tolerance applies to --baseline (how far a corpus's perplexity may exceed the baseline's)");
      }
      const threads = threadsOption(raw.threads);
      const precision = precisionOption(raw.precision);
      // empty: a variable that was not set; not the default (a --baseline '' turned the regression check off)
      if (raw.baseline !== undefined) text('--baseline', raw.baseline, 'a file path');
      if (raw.dataDir !== undefined) text('--data-dir', raw.dataDir, 'a directory');
      const dataDir = resolveDataDir(raw.dataDir);
      const reads: FileRole[] = [
        { label: 'the checkpoint', path: file },
        ...(raw.baseline ? [{ label: '--baseline', path: raw.baseline }] : []),
        ...corpusFiles(raw.corpus, dataDir).map((p) => ({ label: '--corpus', path: p })),
      ];
      if (raw.writeBaseline !== undefined) {
        if (raw.writeBaseline.trim() === '') throw new UsageError('--write-baseline must be a file path, got ""');
        checkWritable(raw.writeBaseline, '--write-baseline');
      }
      refuseOverwrite(reads, raw.writeBaseline ? [{ label: '--write-baseline', path: raw.writeBaseline }] : []);
      if (raw.writeBaseline !== undefined) refuseForeignBaseline(raw.writeBaseline);
      native().setThreads(threads);
      const ck = loadCheckpoint(file);
      if (precision) ck.model.precision = precision;
      const numSteps = raw.numSteps !== undefined ? intOption('--num-steps', raw.numSteps, 1, MAX_NUM_STEPS)
        : hasTrainingState(ck.meta) ? ck.meta.training.numSteps : DEFAULT_EVAL_STEPS;
      const baseline = raw.baseline ? readBaseline(raw.baseline) : undefined;
      // Perplexities compare only over the same vocabulary: another tokenizer predicts other tokens.
      if (baseline && ((baseline.tokenizer !== undefined && baseline.tokenizer !== ck.tokenizer.kind)
        || (baseline.vocabSize !== undefined && baseline.vocabSize !== ck.model.config.vocabSize))) {
        throw new UsageError(`--baseline ${raw.baseline} was measured with a ${baseline.tokenizer ?? ck.tokenizer.kind} tokenizer of ${baseline.vocabSize ?? ck.model.config.vocabSize} tokens, `
          + `and this checkpoint has a ${ck.tokenizer.kind} tokenizer of ${ck.model.config.vocabSize}: their perplexities do not compare; write a new baseline with --write-baseline`);
      }
      if (baseline?.vocabSha1 !== undefined && baseline.vocabSha1 !== vocabSha1(ck.tokenizer.vocab.tokens)) {
        throw new UsageError(`--baseline ${raw.baseline} was measured with another vocabulary of ${ck.model.config.vocabSize} ${ck.tokenizer.kind} tokens `
          + '(its tokens differ from this checkpoint\'s): their perplexities do not compare; write a new baseline with --write-baseline');
      }
      // Under an MPI launcher every rank scores its share of the streams and
      // rank 0 alone reports; every rank exits with the same code.
      const world = mpiWorld();
      const speaks = !world || world.rank === 0;
      if (ck.model.precision === 'bf16' && speaks) bf16Note();
      // no prototype: a corpus may be called __proto__ or constructor
      const results: Record<string, EvalMetrics> = Object.create(null);
      // A corpus named twice would be evaluated twice and reported once.
      const twice = (raw.corpus as string[]).find((c, i, all) => all.indexOf(c) !== i);
      if (twice !== undefined) throw new UsageError(`--corpus names "${twice}" twice: each corpus is evaluated once, and reported by its name`);
      // and one file (or directory) under two names likewise (through links too, and a
      // registry name beside the path of its file)
      const onDisk = (raw.corpus as string[])
        .map((c) => ({ c, file: corpusRegistry().has(c) ? corpusFiles([c], dataDir)[0] : c }))
        .filter((x): x is { c: string; file: string } => x.file !== undefined && existsSync(x.file));
      onDisk.forEach((a, i) => {
        const b = onDisk.slice(i + 1).find((x) => sameFile(a.file, x.file));
        if (b !== undefined) throw new UsageError(`--corpus names one file twice, as "${a.c}" and "${b.c}": each corpus is evaluated once, and reported by its name`);
      });
      // Texts are read as the checkpoint's run read its own.
      const lineEnds: LineEnds = checkpointLineEnds(ck);
      const load = async (spec: string) => {
        const { tokens } = await loadCorpusTokens([spec], { dataDir, tokenizer: ck.tokenizer, lineEnds });
        if (tokens.length < 2) {
          throw new InputError(`--corpus ${spec} is ${plural(tokens.length, 'token')} under the checkpoint's tokenizer `
            + `(${ck.tokenizer.kind}); evaluation needs at least 2`);
        }
        return tokens;
      };
      if (!world) {
        // one text in memory at a time
        for (const spec of raw.corpus) results[spec] = evaluateTokens(ck.model, await load(spec), { numSteps, batchSize, unk: ck.tokenizer.vocab.unk });
      } else {
        const texts: { spec: string; tokens: TokenArray }[] = [];
        let failure: unknown = null;
        try {
          for (const spec of raw.corpus) texts.push({ spec, tokens: await load(spec) });
        } catch (e) {
          failure = e;
        }
        // Ranks given other texts, checkpoints or settings would sum other streams into one
        // report (a wrong result) or meet in different numbers of sums (a hang): they stop
        // here together. A rank that failed above joins this one sum all the same.
        // (a baseline by its results: its path may differ from rank to rank)
        const checks = { maxPpl, maxUnk, tolerance, baseline: baseline ? JSON.stringify(baseline.results) : null };
        agreeEval(world, failure ? null : { texts, ck, numSteps, batchSize, checks });
        if (failure) throw failure;
        for (const { spec, tokens } of texts) {
          results[spec] = evaluateTokens(ck.model, tokens, { numSteps, batchSize, unk: ck.tokenizer.vocab.unk, world });
        }
      }
      // Ranks end together once rank 0 has reported: a rank that exits first
      // with a failure makes the launcher kill the others, rank 0 perhaps
      // before its report is out.
      const endMpi = () => {
        world?.barrier();
        finalizeMpi();
      };
      const verdicts: string[] = [];
      for (const [corpus, r] of Object.entries(results)) {
        const unknown = r.unknownRate ?? 0;
        if (unknown > UNKNOWN_WARNING && speaks) {
          warn(`${percent(unknown)} of the tokens of ${corpus} are outside the checkpoint's vocabulary (read as <unk>); `
            + 'its perplexity is not comparable to that of a text the model knows (--max-unk F fails on this)');
        }
        if (maxUnk !== undefined && unknown > maxUnk) verdicts.push(`${percent(unknown)} of the tokens of ${corpus} are unknown, more than --max-unk ${maxUnk}`);
        if (maxPpl !== undefined && !(r.perplexity <= maxPpl)) {
          verdicts.push(`perplexity ${formatNumber(r.perplexity)} on ${corpus} exceeds --max-ppl ${maxPpl}`);
        }
        // its own entry only: a corpus called constructor must not find Object's
        const base = baseline && Object.hasOwn(baseline.results, corpus) ? baseline.results[corpus] : undefined;
        if (baseline && !base) throw new UsageError(`--baseline ${raw.baseline} has no result for corpus "${corpus}"`);
        // Perplexities compare only over the same tokens: another tokenizer or another text counts others.
        if (base && typeof base.tokens === 'number' && base.tokens !== r.tokens) {
          throw new UsageError(`--baseline ${raw.baseline} was measured on ${base.tokens.toLocaleString('en-US')} tokens of ${corpus}, and this checkpoint `
            + `reads ${r.tokens.toLocaleString('en-US')} (another tokenizer, or the text changed): their perplexities do not compare; write a new baseline with --write-baseline`);
        }
        if (base && !(r.perplexity <= base.perplexity * (1 + tolerance))) {
          verdicts.push(`perplexity ${formatNumber(r.perplexity)} on ${corpus} regressed from the baseline's ${base.perplexity.toFixed(3)} (tolerance ${tolerance})`);
        }
      }
      const rows: EvalRow[] = Object.entries(results).map(([corpus, r]) => ({ corpus, ...r, unknownRate: r.unknownRate ?? 0 }));
      // A perplexity that overflowed (weights finite but huge) is no result: the run fails, as a diverged training does.
      const diverged = Object.keys(results).filter((c) => !Number.isFinite(results[c]!.perplexity));
      if (!speaks) {
        endMpi();
        if (verdicts.length || diverged.length) process.exitCode = 1;
        return;
      }
      emit({
        json: { checkpoint: file, tokenizer: ck.tokenizer.kind, results, regressions: verdicts },
        // (a corpus's name as the terminal shows it: a newline or an escape sequence in a file name written as \u000a, \u001b)
        text: () => renderRecords('text', EVAL_TEXT_COLUMNS, rows.map((r) => ({ ...r, corpus: terminalSafe(r.corpus) }))),
        csv: { columns: EVAL_COLUMNS, rows },
      }, format);
      if (verdicts.length) {
        // A baseline is what a later run must reach: one that fails this run's own checks is not written.
        // (one line, whatever the corpora's names hold: before, a newline in one split the verdict in two)
        process.stderr.write(`deeprnn: regression: ${terminalSafe(verdicts.join('; '))}`
          + `${raw.writeBaseline && !diverged.length ? `; not writing --write-baseline ${raw.writeBaseline}` : ''}\n`);
        process.exitCode = 1;
      }
      if (diverged.length) {
        endMpi();
        // (a baseline holds numbers only: none is written)
        throw new Error(`the perplexity on ${diverged.join(', ')} is not finite: the model's outputs overflow (its weights have diverged)`
          + (raw.writeBaseline ? `; not writing --write-baseline ${raw.writeBaseline}` : ''));
      }
      if (raw.writeBaseline && !verdicts.length) {
        const b: Baseline = { version: 1, checkpoint: file, tokenizer: ck.tokenizer.kind, vocabSize: ck.model.config.vocabSize,
          vocabSha1: vocabSha1(ck.tokenizer.vocab.tokens), results };
        removeStaleTemps([raw.writeBaseline]);
        try {
          writeFileAtomic(raw.writeBaseline, JSON.stringify(b, null, 2) + '\n');
        } catch (e) {
          throw new Error(`could not write --write-baseline ${raw.writeBaseline} (${(e as Error).message})`);
        }
      }
      endMpi();
    });
}
