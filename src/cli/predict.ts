// deeprnn predict PREFIX: the book's greedy continuation from a checkpoint.
import type { Command } from 'commander';
import { predict } from '../generate.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { DEFAULT_CHECKPOINT } from './defaults.js';
import { UsageError } from './errors.js';
import { intOption } from './options.js';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('print PREFIX followed by greedily predicted tokens')
    .argument('<prefix>', 'text to warm the model up on')
    .option('--model <path>', 'checkpoint to read', DEFAULT_CHECKPOINT)
    .option('--num-preds <n>', 'tokens to predict', '20')
    .option('--json', 'print {"prefix": ..., "text": ...}')
    .action((prefix: string, raw: { model: string; numPreds: string; json?: boolean }) => {
      const numPreds = intOption('--num-preds', raw.numPreds, 0, 1_000_000);
      const ckpt = loadCheckpoint(raw.model);
      if (ckpt.tokenizer.encode(prefix).length === 0) {
        throw new UsageError(`the prefix "${prefix}" has no tokens after normalisation; give at least one letter`);
      }
      const text = predict(ckpt.model, ckpt.tokenizer, prefix, numPreds);
      process.stdout.write((raw.json ? JSON.stringify({ prefix, text }) : text) + '\n');
    });
}
