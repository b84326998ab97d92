// deeprnn eval CKPT --corpus ...: perplexity, bits per token and accuracy of a
// checkpoint on any text, read with the checkpoint's own tokenizer; with
// thresholds and baselines for perplexity regression runs in CI.
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { resolveDataDir } from '../data/corpus.js';
import { loadCorpusTokens } from '../data/load.js';
import { InputError } from '../errors.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { writeFileAtomic } from '../io/safetensors.js';
import { native } from '../native.js';
import { evaluateTokens, type EvalMetrics } from '../train/evaluate.js';
import { UsageError } from './errors.js';
import { intOption, numberOption } from './options.js';

interface RawEvalOptions {
  corpus: string[];
  dataDir?: string;
  numSteps?: string;
  batchSize: string;
  threads?: string;
  maxPpl?: string;
  baseline?: string;
  tolerance: string;
  writeBaseline?: string;
  json?: boolean;
}

interface Baseline {
  version: 1;
  checkpoint: string;
  results: Record<string, EvalMetrics>;
}

function readBaseline(file: string): Baseline {
  if (!existsSync(file)) throw new InputError(`--baseline ${file} does not exist (write one with --write-baseline)`);
  let b: unknown;
  try {
    b = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new InputError(`--baseline ${file} is not JSON`);
  }
  const base = b as Partial<Baseline> | null;
  if (!base || base.version !== 1 || !base.results || typeof base.results !== 'object'
    || !Object.values(base.results).every((r) => r && typeof r.perplexity === 'number' && r.perplexity > 0)) {
    throw new InputError(`--baseline ${file} is not a deeprnn baseline (expected {"version": 1, "results": {corpus: {"perplexity": ...}}})`);
  }
  return base as Baseline;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description("perplexity, bits per token and next-token accuracy of a checkpoint on texts, read with its tokenizer")
    .argument('<checkpoint>', 'checkpoint to evaluate')
    .requiredOption('--corpus <name|file|dir...>', 'corpora to evaluate on, each reported on its own')
    .option('--data-dir <dir>', 'where registry corpora are cached')
    .option('--num-steps <n>', 'tokens per chunk of the carried-state pass (default: the checkpoint\'s)')
    .option('--batch-size <n>', 'parallel streams', '64')
    .option('--threads <n>', 'OpenMP threads')
    .option('--max-ppl <x>', 'exit 1 when the perplexity on any corpus exceeds x')
    .option('--baseline <file>', 'exit 1 when the perplexity on a corpus exceeds the baseline\'s by more than --tolerance')
    .option('--tolerance <r>', 'relative tolerance against --baseline', '0.02')
    .option('--write-baseline <file>', 'write these results as a baseline')
    .option('--json', 'print one JSON object')
    .action(async (file: string, raw: RawEvalOptions) => {
      const batchSize = intOption('--batch-size', raw.batchSize, 1, 1_000_000);
      const maxPpl = raw.maxPpl === undefined ? undefined : numberOption('--max-ppl', raw.maxPpl, (v) => v >= 1, 'a number >= 1');
      const tolerance = numberOption('--tolerance', raw.tolerance, (v) => v >= 0, 'a number >= 0');
      if (raw.threads !== undefined) native().setThreads(intOption('--threads', raw.threads, 1, 1024));
      const ck = loadCheckpoint(file);
      const numSteps = raw.numSteps === undefined ? ck.meta.training.numSteps : intOption('--num-steps', raw.numSteps, 1, 1_000_000);
      const baseline = raw.baseline ? readBaseline(raw.baseline) : undefined;
      const results: Record<string, EvalMetrics> = {};
      for (const spec of raw.corpus) {
        const { tokens } = await loadCorpusTokens([spec], { dataDir: resolveDataDir(raw.dataDir), tokenizer: ck.tokenizer });
        results[spec] = evaluateTokens(ck.model, tokens, { numSteps, batchSize });
      }
      if (raw.writeBaseline) {
        const b: Baseline = { version: 1, checkpoint: file, results };
        writeFileAtomic(raw.writeBaseline, Buffer.from(JSON.stringify(b, null, 2) + '\n'));
      }
      const verdicts: string[] = [];
      for (const [corpus, r] of Object.entries(results)) {
        if (maxPpl !== undefined && r.perplexity > maxPpl) {
          verdicts.push(`perplexity ${r.perplexity.toFixed(3)} on ${corpus} exceeds --max-ppl ${maxPpl}`);
        }
        const base = baseline?.results[corpus];
        if (baseline && !base) throw new UsageError(`--baseline ${raw.baseline} has no result for corpus "${corpus}"`);
        if (base && r.perplexity > base.perplexity * (1 + tolerance)) {
          verdicts.push(`perplexity ${r.perplexity.toFixed(3)} on ${corpus} regressed from the baseline's ${base.perplexity.toFixed(3)} (tolerance ${tolerance})`);
        }
      }
      if (raw.json) {
        process.stdout.write(JSON.stringify({ checkpoint: file, tokenizer: ck.tokenizer.kind, results, regressions: verdicts }) + '\n');
      } else {
        process.stdout.write('corpus'.padEnd(32) + 'tokens'.padEnd(12) + 'perplexity'.padEnd(12) + 'bits/token'.padEnd(12) + 'accuracy\n');
        for (const [corpus, r] of Object.entries(results)) {
          process.stdout.write(corpus.padEnd(32) + String(r.tokens).padEnd(12) + r.perplexity.toFixed(3).padEnd(12)
            + r.bitsPerToken.toFixed(3).padEnd(12) + r.accuracy.toFixed(4) + '\n');
        }
      }
      if (verdicts.length) {
        process.stderr.write(`deeprnn: regression: ${verdicts.join('; ')}\n`);
        process.exitCode = 1;
      }
    });
}
