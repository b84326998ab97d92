// Where the CLI finds corpora: the shipped Time Machine with no data directory
// and no network, and what it says when the data directory or a download fails.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, QUICK, type CliResult } from '../helpers/cli.js';
import { BIN, TIMEMACHINE } from '../helpers/paths.js';
import { cliAsUser } from '../helpers/sandbox.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
chmodSync(dir, 0o755);
/** Any download goes to a port where nothing listens. */
const OFFLINE = { DEEPRNN_MIRROR: 'http://127.0.0.1:1/' };

describe('corpora without a network', () => {
  it('trains on the shipped Time Machine with an empty data directory', async () => {
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    const out = path.join(dir, 'tm.safetensors');
    const r = await cli(['train', ...QUICK, '--epochs', '1', '--out', out], { env: { ...OFFLINE, DEEPRNN_DATA_DIR: empty } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^epoch 1\/1 {2}train ppl /);
  });

  it('names the file, the URL and the ways around a failed download', async () => {
    const empty = path.join(dir, 'empty2');
    const r = await cli(['train', ...QUICK, '--corpus', 'tinyshakespeare', '--data-dir', empty], { env: OFFLINE });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'deeprnn: error: download of http://127.0.0.1:1/tinyshakespeare.txt failed: connect ECONNREFUSED 127.0.0.1:1; '
      + 'to use a copy of tinyshakespeare.txt (sha1 04486597058d11dcc2c556b1d0433891eb639d2e) from elsewhere, '
      + `put it at ${path.join(empty, 'tinyshakespeare.txt')}, or pass --data-dir DIR or set DEEPRNN_DATA_DIR=DIR `
      + 'for a directory DIR that holds it (or set DEEPRNN_MIRROR to a URL that serves it)',
    );
  });
});

describe('data directory messages', () => {
  it('--data-dir naming a file', async () => {
    const file = path.join(dir, 'passwd');
    writeFileSync(file, 'root:x:0:0\n');
    const r = await cli(['train', ...QUICK, '--data-dir', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`deeprnn: error: the data directory ${file} is a file; expected a directory (set it with --data-dir or DEEPRNN_DATA_DIR)`);
  });

  it('a read-only data directory, existing or to be created', async () => {
    // A checkpoint path this user may write, so that the run gets as far as the data directory.
    const writable = path.join(dir, 'writable');
    mkdirSync(writable);
    chmodSync(writable, 0o777);
    const out = ['--out', path.join(writable, 'm.safetensors')];
    const ro = path.join(dir, 'readonly');
    mkdirSync(ro, { mode: 0o555 });
    chmodSync(ro, 0o555);
    const around = (d: string) => `to use a copy of tinyshakespeare.txt (sha1 04486597058d11dcc2c556b1d0433891eb639d2e) from elsewhere, `
      + `put it at ${path.join(d, 'tinyshakespeare.txt')}, or pass --data-dir DIR or set DEEPRNN_DATA_DIR=DIR `
      + 'for a directory DIR that holds it (or set DEEPRNN_MIRROR to a URL that serves it)';
    const a = await asUnprivileged(['train', ...QUICK, ...out, '--corpus', 'tinyshakespeare'], { DEEPRNN_DATA_DIR: ro });
    expect(a.code).toBe(2);
    expect(a.stderr.trim()).toBe(`deeprnn: error: the data directory ${ro} is not writable: permission denied; ${around(ro)}`);
    const sub = path.join(ro, 'deeprnn');
    const b = await asUnprivileged(['train', ...QUICK, ...out, '--corpus', 'tinyshakespeare'], { XDG_CACHE_HOME: ro });
    expect(b.code).toBe(2);
    expect(b.stderr.trim()).toBe(`deeprnn: error: cannot create the data directory ${sub}: permission denied; ${around(sub)}`);
    const closed = path.join(dir, 'closed');
    mkdirSync(closed, { mode: 0 });
    chmodSync(closed, 0);
    const c = await asUnprivileged(['train', ...QUICK, ...out], { DEEPRNN_DATA_DIR: path.join(closed, 'data') });
    expect(c.code).toBe(2);
    expect(c.stderr.trim()).toBe(`deeprnn: error: cannot use the data directory ${path.join(closed, 'data')}: permission denied`);
  });

  it('a broken symbolic link in a corpus directory', async () => {
    const books = path.join(dir, 'books');
    mkdirSync(books);
    writeFileSync(path.join(books, 'a.txt'), 'some text to read\n'.repeat(100));
    symlinkSync(path.join(dir, 'moved.txt'), path.join(books, 'b.txt'));
    const r = await cli(['train', ...QUICK, '--corpus', books]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `deeprnn: error: --corpus "${books}": ${path.join(books, 'b.txt')} is a symbolic link to "${path.join(dir, 'moved.txt')}", which does not exist`,
    );
  });
});

/**
 * Runs the CLI as a user that file permissions apply to: as root (who writes
 * anywhere), as nobody (uid 65534); otherwise as the current user.
 */
function asUnprivileged(args: string[], env: Record<string, string>): Promise<CliResult> {
  const root = process.getuid?.() === 0;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, ...OFFLINE, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(root ? { uid: 65534, gid: 65534 } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('a corpus this user cannot read', () => {
  it('a file or a directory without read permission is named as the --corpus it is, exit 2', async () => {
    // Before, Node's bare "EACCES: permission denied, open '...'" (or "scandir").
    const sub = path.join(dir, 'unreadable');
    mkdirSync(sub);
    chmodSync(dir, 0o755);
    chmodSync(sub, 0o755);
    const file = path.join(sub, 'locked.txt');
    writeFileSync(file, 'some text to read\n'.repeat(100));
    chmodSync(file, 0o000);
    const locked = path.join(sub, 'lockdir');
    mkdirSync(locked);
    chmodSync(locked, 0o000);
    const out = ['--out', path.join(os.tmpdir(), `deeprnn-unreadable-${process.pid}.safetensors`)];
    const r1 = await cliAsUser(['train', ...QUICK, '--corpus', file, ...out]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toBe(`deeprnn: error: --corpus "${file}" cannot be read (EACCES: permission denied, open '${file}')\n`);
    const r2 = await cliAsUser(['train', ...QUICK, '--corpus', locked, ...out]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toBe(`deeprnn: error: --corpus "${locked}" is a directory that cannot be read (EACCES: permission denied, scandir '${locked}')\n`);
    // listed but not entered (r--): its files cannot be looked at (before, a bare "EACCES: permission denied, stat")
    const listOnly = path.join(sub, 'list-only');
    mkdirSync(listOnly);
    writeFileSync(path.join(listOnly, 'a.txt'), 'some text to read\n'.repeat(100));
    chmodSync(listOnly, 0o644);
    try {
      const r3 = await cliAsUser(['train', ...QUICK, '--corpus', listOnly, ...out]);
      expect(r3.code).toBe(2);
      expect(r3.stderr).toBe(`deeprnn: error: --corpus "${listOnly}": ${path.join(listOnly, 'a.txt')} cannot be read (EACCES)\n`);
    } finally {
      chmodSync(listOnly, 0o755);
    }
  });

  it('a file inside a directory this user may not enter is named as unreadable, not as missing (a corpus, a checkpoint)', async () => {
    // Before: "is neither a known corpus ... nor an existing file or directory", and
    // "checkpoint ... does not exist (train one with ...)" of a file that is there.
    const closed = path.join(dir, 'no-entry');
    mkdirSync(closed);
    const text = path.join(closed, 'small.txt');
    writeFileSync(text, 'some text to read\n'.repeat(100));
    const ck = path.join(closed, 'm.safetensors');
    const t = await cli(['train', ...QUICK, '--corpus', TIMEMACHINE, '--epochs', '1', '--out', ck]);
    expect(t.code, t.stderr).toBe(0);
    chmodSync(closed, 0o000);
    try {
      const out = ['--out', path.join(os.tmpdir(), `deeprnn-closed-${process.pid}.safetensors`)];
      const r1 = await cliAsUser(['train', ...QUICK, '--corpus', text, ...out]);
      expect(r1.code).toBe(2);
      expect(r1.stderr).toBe(`deeprnn: error: --corpus "${text}" cannot be read (EACCES: permission denied, stat '${text}')\n`);
      for (const args of [['info', ck], ['predict', 'the', '--model', ck], ['train', ...QUICK, '--init-from', ck, ...out]]) {
        const r = await cliAsUser(args);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stderr).toBe(`deeprnn: error: checkpoint ${ck} cannot be read (EACCES: permission denied, stat '${ck}')\n`);
      }
      const served = await cliAsUser(['serve', ck, '--port', '0']);
      expect(served.code).toBe(2);
      expect(served.stderr).toBe(`deeprnn: error: ${ck} cannot be read (EACCES: permission denied, stat '${ck}')\n`);
    } finally {
      chmodSync(closed, 0o755);
    }
  });
});

describe('a word of millions of characters', () => {
  it('the word tokenizer refuses it in one line, exit 2, and says what to use instead', async () => {
    const file = path.join(dir, 'one-long-word.txt');
    writeFileSync(file, `${'x'.repeat(6_000_000)} ${'y'.repeat(6_000_000)}\n`);
    const r = await cli(['train', '--corpus', file, '--tokenizer', 'word', '--epochs', '1', '--out', path.join(dir, 'long.safetensors')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('deeprnn: error: the word tokenizer cannot cut a run of millions of characters without white space '
      + '(one word, or a text with no spaces, that long); use --tokenizer char for such a text\n');
  });
});
