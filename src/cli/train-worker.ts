// The training run of `deeprnn train`, on a worker thread: the main thread
// stays free to answer signals at once while a batch (one long native call) or
// the corpus reading blocks this one. Progress goes to the main thread as
// messages; a "stop" message stops the run after the current batch.
import { parentPort, workerData } from 'node:worker_threads';
import { InputError } from '../errors.js';
import { finalizeMpi } from '../mpi.js';
import { runTraining, type RunSettings, type RunTimings } from '../train/run.js';
import { NonFiniteError, type EpochMetrics, type Trainer, type TrainState } from '../train/trainer.js';
import type { TrainThreadData } from './warm-thread.js';

/** The job, sent by the main thread once this thread is up (warm-thread.ts). */
export interface TrainJob {
  type: 'job';
  settings: RunSettings;
  resume?: string;
  /**
   * Whether the main thread draws a progress bar and wants news of batches
   * (false: only the epochs'; a message wakes the main thread, which on a
   * machine whose every core trains takes a core from the run for a while).
   */
  batchNews?: boolean;
}

/** What the worker tells the main thread. */
export type TrainMessage =
  | { type: 'log'; msg: string }
  | { type: 'warn'; msg: string }
  | { type: 'start' }
  | { type: 'batch'; epoch: number; done: number; total: number; loss: number; tokens: number; seconds: number; ran: number }
  | { type: 'epoch'; m: EpochMetrics }
  | { type: 'load'; done: number; total: number }
  | { type: 'done'; history: EpochMetrics[]; seconds: number; stopped: boolean; early: boolean; state: TrainState; stopSignal: 'SIGINT' | 'SIGTERM' | null; timings: RunTimings; vocabSize: number }
  | { type: 'error'; input: boolean; nonFinite: boolean; message: string; stack?: string };

const port = parentPort!;
const post = (m: TrainMessage) => port.postMessage(m);
const { stopFlag } = workerData as TrainThreadData;

/** Batches run since the last batch message, and when that was sent. */
let ran = 0;
let lastBatchNews = -Infinity;
const BATCH_NEWS_MS = 50;

let trainer: Trainer | null = null;
let stopRequested: 'SIGINT' | 'SIGTERM' | null | false = false;
let started = false;
port.on('message', (m: TrainJob | { type: 'stop'; signal?: string }) => {
  if (m.type === 'job') {
    if (!started) void run(m);
    started = true;
    return;
  }
  if (m.type !== 'stop') return;
  stopRequested = m.signal === 'SIGINT' || m.signal === 'SIGTERM' ? m.signal : null;
  trainer?.stop(stopRequested);
});

async function run(job: TrainJob): Promise<void> {
  try {
    const r = await runTraining(job.settings, {
      log: (msg) => post({ type: 'log', msg }),
      warn: (msg) => post({ type: 'warn', msg }),
      onBatch: job.batchNews === false ? undefined : (epoch, done, total, loss, tokens, seconds) => {
        // At most one message per BATCH_NEWS_MS (a message costs about a tenth of a
        // millisecond, a batch of the book's model a few), and the epoch's last.
        ran++;
        const now = performance.now();
        if (done < total && now - lastBatchNews < BATCH_NEWS_MS) return;
        lastBatchNews = now;
        post({ type: 'batch', epoch, done, total, loss, tokens, seconds, ran });
        ran = 0;
      },
      onEpoch: (m) => post({ type: 'epoch', m }),
      onLoad: (done, total) => post({ type: 'load', done, total }),
      onTrainer: (t) => {
        trainer = t;
        t.watchStop(stopFlag);
        post({ type: 'start' });
        if (stopRequested !== false) t.stop(stopRequested);
      },
    }, job.resume);
    post({ type: 'done', history: r.history, seconds: r.seconds, stopped: r.stopped, early: r.early, state: r.state, stopSignal: r.stopSignal, timings: r.timings,
      vocabSize: r.tokenizer.vocab.size });
    // MPI (when this run is one rank of a job) ends with the run, on the thread
    // that started it, after the result is out. Not after a signal: mpirun is
    // ending the job then, and finalising would wait for it until it kills the
    // rank; the rank exits 130 / 143 instead.
    if (!r.stopped) finalizeMpi();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const input = e instanceof InputError || code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR';
    post({ type: 'error', input, nonFinite: e instanceof NonFiniteError, message: (e as Error).message ?? String(e), stack: (e as Error).stack });
  } finally {
    // Let the thread end once its messages are out (closing the port could drop them).
    port.unref();
  }
}
