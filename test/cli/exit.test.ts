// The end of a command: Node 20 could deadlock as it exited (an optimizing
// compile on a background thread waiting for a garbage collection the exiting
// main thread never performed). eval of a small model hung so in about one run
// in ten; the CLI now collects before it ends (src/cli/exit.ts).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, run } from '../helpers/cli.js';
import { BIN, TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

/** Runs the CLI, killed after `ms`: its exit code, or 'hung'. */
function runOrHang(args: string[], ms: number): Promise<number | null | 'hung'> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, ms);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(hung ? 'hung' : code);
    });
  });
}

describe('the end of a command', () => {
  it('eval exits, run after run (none waits forever once its report is printed)', async () => {
    const dir = tmpDir();
    const corpus = path.join(dir, 'small.txt');
    writeFileSync(corpus, readFileSync(TIMEMACHINE, 'utf8').slice(0, 20000));
    const texts = path.join(dir, 'texts');
    mkdirSync(texts);
    writeFileSync(path.join(texts, 'A.TXT'), 'alpha beta\n');
    writeFileSync(path.join(texts, 'b.txt'), 'the time traveller said\n');
    symlinkSync(corpus, path.join(texts, 'link.txt'));
    const model = path.join(dir, 'char.safetensors');
    const t = await cli(['train', '--corpus', corpus, '--tokenizer', 'char', '--hidden', '8', '--num-train', '200', '--num-val', '50',
      '--batch-size', '50', '--num-steps', '16', '--epochs', '1', '--out', model]);
    expect(t.code, t.stderr).toBe(0);
    const args = ['eval', '--model', model, '--corpus', texts, path.join(texts, 'b.txt')];
    const codes: (number | null | 'hung')[] = [];
    for (let i = 0; i < 15; i++) codes.push(...await Promise.all([runOrHang(args, 20_000), runOrHang(args, 20_000)]));
    expect(codes.filter((c) => c !== 0)).toEqual([]);
    // What keeps it from hanging, seen directly: the last thing the process does is a full collection of its own.
    const traced = await run(process.execPath, ['--trace-gc', BIN, ...args]);
    expect(traced.code, traced.stderr).toBe(0);
    expect(traced.stdout.trimEnd().split('\n').at(-1)).toMatch(/Mark-Compact .* testing; GC in old space requested$/);
  }, 300_000);
});
