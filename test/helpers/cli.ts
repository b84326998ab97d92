import { spawnSync } from 'node:child_process';
import { BIN, SHARED_DATA } from './paths.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/deeprnn with the shared corpora as its data directory. */
export function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, DEEPRNN_DATA_DIR: SHARED_DATA, ...opts.env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A quick training configuration (seconds, not minutes). */
export const QUICK = ['--epochs', '2', '--num-train', '300', '--num-val', '100', '--batch-size', '64', '--hidden', '16', '--num-steps', '16'];
