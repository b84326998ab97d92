#!/usr/bin/env node
// `deeprnn train` trains on a worker thread: start it now, so that it loads its
// modules while this thread loads the command line's (dist/cli/warm-thread.js).
if (process.argv[2] === 'train') (await import('../dist/cli/warm-thread.js')).warmTrainThread();
await import('../dist/cli/main.js');
