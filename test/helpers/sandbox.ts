// Conditions a test cannot make with plain files: a full disk (a small tmpfs
// in a private mount namespace, `unshare -Urm`, which needs no root) and a
// user whom file permissions bind (nobody when the tests run as root).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, type CliResult } from './cli.js';
import { BIN, DATA_DIR } from './paths.js';

const probe = mkdtempSync(path.join(os.tmpdir(), 'deeprnn-probe-'));
/** Whether this machine lets a test mount a tmpfs in a private namespace (Linux with user namespaces). */
export const CAN_MOUNT = spawnSync('unshare', ['-Urm', 'sh', '-c', `mount -t tmpfs -o size=4k tmpfs '${probe}'`]).status === 0;
rmSync(probe, { recursive: true, force: true });
if (!CAN_MOUNT) console.log('sandbox: `unshare -Urm` cannot mount a tmpfs here: the full-disk tests are skipped');

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Mounts a tmpfs of `size` (e.g. "32k") at `dir` in a private namespace and
 * runs `script` (sh) there, in which `deeprnn ARGS` runs bin/deeprnn. The
 * tmpfs goes away with the namespace: the script copies out what the test
 * must see.
 */
export function inTmpfs(dir: string, size: string, script: string): Promise<CliResult> {
  const prelude = `mount -t tmpfs -o size=${size} tmpfs ${quote(dir)} || exit 99\ndeeprnn() { "$NODE_BIN" "$DEEPRNN_BIN" "$@"; }\n`;
  return run('unshare', ['-Urm', 'sh', '-c', prelude + script], { env: { NODE_BIN: process.execPath, DEEPRNN_BIN: BIN } });
}

/** Runs bin/deeprnn as a user whom file permissions bind: nobody (uid 65534) when the tests run as root, else the current user. */
export function cliAsUser(args: string[], opts: { cwd?: string } = {}): Promise<CliResult> {
  const root = process.getuid?.() === 0;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), DEEPRNN_DATA_DIR: DATA_DIR },
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
