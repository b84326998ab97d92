// deeprnn serve [CKPT|DIR]: a local page with a playground that generates in
// the browser (ONNX Runtime Web, from the checkpoint's ONNX export), the
// training curves of every run in the directory (live while a run writes its
// metrics) and each checkpoint's info. Runs until interrupted.
import { readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CHECKPOINT } from './defaults.js';
import { UsageError } from './errors.js';
import { accessDenied, isSymlink } from '../io/files.js';
import { warn, write } from './output.js';
import { intOption, option } from './options.js';

interface RawServeOptions {
  port: string | number;
  host: string;
}

/** A directory the server cannot list would show an empty page without a word: refused. */
function listable(dir: string): void {
  try {
    readdirSync(dir);
  } catch (e) {
    throw new UsageError(`${dir} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): the server lists its checkpoints and runs`);
  }
}

/** The served directory and the checkpoint the page opens with, from CKPT or DIR. */
export function serveTarget(target: string): { dir: string; selected?: string } {
  if (target.trim() === '') throw new UsageError('serve needs a checkpoint or a directory of runs, got ""');
  let st;
  try {
    st = statSync(target);
  } catch (e) {
    // Each cause by its name (before, a file with a trailing slash, a link to nothing and a loop of links each
    // "did not exist")
    const code = (e as NodeJS.ErrnoException).code;
    const denied = accessDenied(target);
    if (denied) throw new UsageError(`${target} cannot be read (${denied})`);
    if (code === 'ENOTDIR') throw new UsageError(`${target}: a part of this path is a file, not a directory (a "/" after a checkpoint's name?): name a checkpoint or a directory of runs`);
    if (code === 'ELOOP') throw new UsageError(`${target} is a loop of symbolic links: name a checkpoint or a directory of runs`);
    if (code === 'ENOENT' && isSymlink(target)) {
      throw new UsageError(`${target} is a symbolic link to ${readlinkSync(target)}, which does not exist: name a checkpoint or a directory of runs`);
    }
    if (code !== 'ENOENT') throw new UsageError(`${target} cannot be looked at (${code ?? (e as Error).message})`);
    throw new UsageError(`${target} does not exist: name a checkpoint or a directory of runs (train one with "deeprnn train --out ${DEFAULT_CHECKPOINT}")`);
  }
  if (st.isDirectory()) {
    listable(target);
    return { dir: target };
  }
  if (!st.isFile() || !target.endsWith('.safetensors')) throw new UsageError(`${target} is neither a directory nor a .safetensors checkpoint`);
  // The page offers the checkpoints its directory lists: a link that leads out of
  // the directory serves the directory of the file it leads to (before, the page
  // was told to open a checkpoint the server then refused, and opened another).
  let file = target;
  const real = realpathSync.native(target);
  const within = path.relative(realpathSync.native(path.dirname(target)), real);
  if (within === '..' || within.startsWith(`..${path.sep}`) || path.isAbsolute(within)) {
    if (!real.endsWith('.safetensors')) throw new UsageError(`${target} leads to ${real}, which is no .safetensors checkpoint`);
    file = real;
  }
  if (path.basename(file).startsWith('.')) {
    throw new UsageError(`${file}: the page lists no hidden files (names that begin with "."); give the checkpoint another name`);
  }
  listable(path.dirname(file));
  return { dir: path.dirname(file), selected: path.basename(file) };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('a local web page: generate in the browser (ONNX Runtime Web), training curves (live), checkpoint info')
    .argument('[target]', 'a checkpoint (its directory is served, it opens in the playground) or a directory of runs',
      path.dirname(DEFAULT_CHECKPOINT))
    .addOption(option('--port <n>', 'port to listen on (0: any free port)', 8080))
    .addOption(option('--host <address>', 'address to bind; anything but loopback opens the page (read-only) to the network', '127.0.0.1'))
    .action(async (target: string, raw: RawServeOptions) => {
      // Loaded here: the other commands need none of the server.
      const { startServer } = await import('../serve/server.js');
      const port = intOption('--port', raw.port, 0, 65535);
      if (!raw.host) throw new UsageError('--host must be an address, got ""');
      // "[::1]", the form a URL writes an IPv6 address in, is that address
      const host = /^\[[0-9a-f:.]+\]$/i.test(raw.host) ? raw.host.slice(1, -1) : raw.host;
      const { dir, selected } = serveTarget(target);
      const served = await startServer({ dir, selected, host, port }).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EADDRINUSE') throw new UsageError(`port ${port} on ${raw.host} is in use: choose another with --port (0 picks a free one)`);
        if (e.code === 'EACCES') {
          throw new UsageError(`port ${port} on ${raw.host} cannot be listened on: permission denied${port < 1024 ? ' (a port below 1024 needs root or CAP_NET_BIND_SERVICE)' : ''}; choose another with --port`);
        }
        if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') throw new UsageError(`--host ${raw.host} is not an address of this machine`);
        throw e;
      });
      if (!served.loopback) {
        warn(`listening on ${raw.host}: anyone who can reach it can read the checkpoints and metrics under ${dir}`);
      }
      if (served.playgroundOff) warn(`the playground is off: ${served.playgroundOff}`);
      write(`serving ${dir} at ${served.url}${selected ? ` (playground: ${selected})` : ''}; Ctrl-C stops\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void served.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
