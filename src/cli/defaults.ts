// The checkpoint the commands share: train writes it, predict, eval and info
// read it, each with --model PATH (eval and info also take it as their
// argument, the form they had first).
import type { Command } from 'commander';
import { sameFile } from '../io/files.js';
import { UsageError } from './errors.js';
import { option } from './options.js';

/** Where `deeprnn train` writes and predict, eval and info read by default (relative to the working directory). */
export const DEFAULT_CHECKPOINT = 'checkpoints/deeprnn.safetensors';

/** --model PATH, as predict, eval and info declare it. */
export const modelOption = () => option('--model <path>', 'checkpoint to read', DEFAULT_CHECKPOINT);

/**
 * The checkpoint of eval, info and export: --model, or the argument (the same
 * thing, kept from before --model); both only when they name the same file.
 */
export function checkpointPath(argument: string | undefined, cmd: Command): string {
  const model = cmd.getOptionValue('model') as string;
  // (an empty name: a variable that was not set, not a checkpoint)
  if (cmd.getOptionValueSource('model') === 'cli' && model.trim() === '') throw new UsageError("--model's path is empty: name a .safetensors file");
  if (argument !== undefined && argument.trim() === '') throw new UsageError("the checkpoint's path is empty: name a .safetensors file");
  if (argument === undefined) return model;
  if (cmd.getOptionValueSource('model') === 'cli' && !sameFile(argument, model)) {
    throw new UsageError(`two checkpoints are named, the argument ${argument} and --model ${model}, where the command reads one: give one, with --model`);
  }
  return argument;
}
