import { spawn } from 'node:child_process';
import { BIN, DATA_DIR } from './paths.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs bin/deeprnn with the tests' data directory (DATA_DIR). Asynchronous,
 * so the test worker stays responsive to vitest while a long command runs.
 */
export function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return run(process.execPath, [BIN, ...args], opts);
}

/** Runs a program (with DEEPRNN_DATA_DIR at DATA_DIR) without blocking the worker. */
export function run(file: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: { ...process.env, DEEPRNN_DATA_DIR: DATA_DIR, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A quick training configuration (seconds, not minutes). */
export const QUICK = ['--epochs', '2', '--num-train', '300', '--num-val', '100', '--batch-size', '64', '--hidden', '16', '--num-steps', '16'];
