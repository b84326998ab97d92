// `deeprnn train` runs its training on a worker thread (train-worker.ts) so
// that this thread is never blocked: the first SIGINT or SIGTERM asks the run
// to stop after the current batch (it saves a checkpoint), and from then on
// SIGINT has its default action again, so a second Ctrl-C ends the process at
// once, even in the middle of a long batch or while a large corpus is read.
// Every write goes to a temporary file renamed into place, so no partial file
// is left.
import { InputError } from '../errors.js';
import { NonFiniteError } from '../train/trainer.js';
import type { RunSettings } from '../train/run.js';
import type { TrainJob, TrainMessage } from './train-worker.js';
import { startTrainThread, takeTrainThread } from './warm-thread.js';
import type { Progress } from './progress.js';
import { warn } from './output.js';

export type ThreadResult = Extract<TrainMessage, { type: 'done' }>;

/** Stops the running job for a failure of the standard output (see stopTrainingForOutput); null when none runs. */
let stopForOutput: (() => void) | null = null;

/**
 * Asks the running training job, when there is one, to stop after its batch
 * and save a checkpoint, as a signal does, because the standard output failed
 * (main.ts): ending the process at once would end the thread in the middle of
 * a native step and leave the lock of --out behind. Returns whether a job was
 * running; trainInThread's result then has outputFailed set.
 */
export function stopTrainingForOutput(): boolean {
  if (!stopForOutput) return false;
  stopForOutput();
  return true;
}

/** How long after a signal the same signal is its echo, not a second Ctrl-C (a person presses twice far more slowly). */
export const SIGNAL_ECHO_MS = 100;

export function trainInThread(settings: RunSettings, resume: string | undefined, progress: Progress, quiet = false):
  Promise<{ result: ThreadResult; signal: NodeJS.Signals | null; outputFailed: boolean }> {
  return new Promise((resolve, reject) => {
    // The thread bin/deeprnn.js started while this one loaded, or a new one.
    const { worker, data } = takeTrainThread() ?? startTrainThread();
    worker.postMessage({ type: 'job', settings, resume, batchNews: progress.drawsBars } satisfies TrainJob);
    let signal: NodeJS.Signals | null = null;
    let settled = false;
    let outputFailed = false;
    stopForOutput = () => {
      if (outputFailed) return;
      outputFailed = true;
      progress.stop();
      // A plain stop (neither signal): the flag after every batch, the message before training starts.
      Atomics.store(data.stopFlag, 0, 3);
      worker.postMessage({ type: 'stop', signal: null });
    };
    const onSignal = (sig: NodeJS.Signals) => {
      // A second SIGTERM, or the same signal again at once (timeout(1) sends it to the process and then to its
      // group: before, that second SIGINT quit at once, and a run in its first epoch left nothing): stopping already.
      if (signal) return;
      signal = sig;
      // A Ctrl-C after that moment quits at once.
      setTimeout(() => process.off('SIGINT', onSignal), SIGNAL_ECHO_MS).unref();
      progress.stop();
      // (the line break ends a progress bar's line on a terminal)
      if (!quiet) process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}${sig}: stopping after this batch and saving a checkpoint (press Ctrl-C again to quit at once)\n`);
      // The flag, read after every batch; the message, for a run not yet training (reading its corpus).
      Atomics.store(data.stopFlag, 0, sig === 'SIGINT' ? 1 : 2);
      worker.postMessage({ type: 'stop', signal: sig });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      stopForOutput = null;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      progress.stop();
      f();
    };
    worker.on('message', (m: TrainMessage) => {
      switch (m.type) {
        case 'log':
          progress.log(m.msg);
          break;
        case 'warn':
          if (!quiet) warn(m.msg);
          break;
        case 'start':
          progress.start();
          break;
        case 'batch':
          progress.batch(m.epoch, m.done, m.total, m.loss, m.tokens, m.ran, m.seconds);
          break;
        case 'epoch':
          progress.epoch(m.m);
          break;
        case 'load':
          progress.loading(m.done, m.total);
          break;
        case 'done':
          settle(() => resolve({ result: m, signal, outputFailed }));
          break;
        case 'error':
          settle(() => {
            const e = m.input ? new InputError(m.message) : m.nonFinite ? new NonFiniteError(m.message) : new Error(m.message);
            if (m.stack) e.stack = m.stack;
            reject(e);
          });
          break;
      }
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the training thread ended without a result (exit code ${code})`))));
  });
}
