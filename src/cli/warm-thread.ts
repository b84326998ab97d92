// `deeprnn train` trains on a worker thread (train-worker.ts) whose modules
// take some tens of milliseconds to load, as this thread's do. bin/deeprnn.js
// starts that thread first thing when the command is `train`, so that both
// load at once; trainInThread then hands it the job. A thread that is not used (`train --help`, a refused option) keeps
// nothing alive: it is unreferenced until taken, and ends with the process.
import { Worker } from 'node:worker_threads';
import { native } from '../native.js';
import { unparsableOpenMp } from '../threads.js';

/** What a training thread is started with; the job follows as a message. */
export interface TrainThreadData {
  /** Set by the main thread on a signal (1 SIGINT, 2 SIGTERM): the trainer reads it after every batch (Trainer.watchStop). */
  stopFlag: Int32Array;
}

export interface TrainThread {
  worker: Worker;
  data: TrainThreadData;
}

let warm: (TrainThread & { ended: boolean }) | null = null;

const TRAIN_WORKER = new URL('./train-worker.js', import.meta.url);

/** A training thread, loading its modules; it waits for a 'job' message. `script`: another module (for tests). */
export function startTrainThread(script: URL = TRAIN_WORKER): TrainThread {
  const data: TrainThreadData = { stopFlag: new Int32Array(new SharedArrayBuffer(4)) };
  // OpenMP starts with the first thread that loads the addon: this one, when a
  // variable must be hidden from it (native()), which a worker cannot do.
  if (unparsableOpenMp().length) {
    try {
      native();
    } catch {
      // (an addon that does not load is reported where the command first needs it)
    }
  }
  return { worker: new Worker(script, { workerData: data }), data };
}

/** Starts the thread that takeTrainThread() will give, and returns it (once: later calls start none and return it again). */
export function warmTrainThread(script: URL = TRAIN_WORKER): Worker {
  if (warm) return warm.worker;
  const t = { ...startTrainThread(script), ended: false };
  // Until it is taken, an error (its modules failed to load) or an end only
  // marks it: the thread started in its place reports the error.
  const ended = () => {
    t.ended = true;
  };
  t.worker.on('error', ended).on('exit', ended).unref();
  warm = t;
  return t.worker;
}

/** The warm thread, when one was started and has not ended; else null. Gives it once. */
export function takeTrainThread(): TrainThread | null {
  const t = warm;
  warm = null;
  if (!t) return null;
  t.worker.removeAllListeners('error').removeAllListeners('exit');
  if (t.ended) {
    void t.worker.terminate();
    return null;
  }
  t.worker.ref();
  return { worker: t.worker, data: t.data };
}
