#!/usr/bin/env node
// `deeprnn train` trains on a worker thread: start it now, so that it loads its
// modules while this thread loads the command line's (dist/cli/warm-thread.js).
// Not for help or the version, which train nothing.
const args = process.argv.slice(2);
if (args[0] === 'train' && !args.some((a) => a === '-h' || a === '--help' || a === '-V' || a === '--version')) {
  (await import('../dist/cli/warm-thread.js')).warmTrainThread();
}
await import('../dist/cli/main.js');
