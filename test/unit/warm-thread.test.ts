// The training thread that bin/deeprnn.js starts for `deeprnn train` before the
// command line is read (dist/cli/warm-thread.js): given once, it runs the job
// sent to it; one that ended before it was taken is not given.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dist = (f: string) => import(path.join(ROOT, 'dist', f));

describe('the warm training thread', () => {
  it('is given once, and runs the job it is sent', async () => {
    const { warmTrainThread, takeTrainThread } = await dist('cli/warm-thread.js');
    const { libraryNaming, resolveRunSettings } = await dist('train/settings.js');
    expect(takeTrainThread()).toBeNull();
    const worker = warmTrainThread();
    expect(warmTrainThread()).toBe(worker); // one thread, however often asked
    const taken = takeTrainThread();
    expect(taken?.worker).toBe(worker);
    expect(takeTrainThread()).toBeNull();

    const opts = { epochs: 1, numTrain: 40, numVal: 20, batchSize: 8, numSteps: 8, hidden: 8, layers: 1 };
    const settings = { ...resolveRunSettings(opts, libraryNaming(opts), { corpus: ['(text)'], out: null }), text: ['it has been a long time, it has. '.repeat(20)], naming: 'library' };
    const messages: { type: string; history?: unknown[]; message?: string }[] = [];
    const done = new Promise<void>((resolve) => worker.on('message', (m: (typeof messages)[number]) => {
      messages.push(m);
      if (m.type === 'done' || m.type === 'error') resolve();
    }));
    worker.postMessage({ type: 'job', settings });
    await done;
    const last = messages.at(-1)!;
    expect(last.message).toBeUndefined();
    expect(last.type).toBe('done');
    expect(last.history).toHaveLength(1);
    expect(messages.map((m) => m.type)).toContain('start');
    // without batchNews (a bar is drawn): the epoch's last batch is told
    expect(messages.filter((m) => m.type === 'batch').length).toBeGreaterThanOrEqual(1);
    await worker.terminate();
  }, 60_000);

  it('sends no news of batches when no bar is drawn (batchNews false), only of epochs', async () => {
    // (each message wakes the main thread, which on a machine whose every core trains takes one from the run)
    const { startTrainThread } = await dist('cli/warm-thread.js');
    const { libraryNaming, resolveRunSettings } = await dist('train/settings.js');
    const opts = { epochs: 3, numTrain: 40, numVal: 20, batchSize: 8, numSteps: 8, hidden: 8, layers: 1 };
    const settings = { ...resolveRunSettings(opts, libraryNaming(opts), { corpus: ['(text)'], out: null }), text: ['it has been a long time, it has. '.repeat(20)], naming: 'library' };
    const types = async (batchNews: boolean) => {
      const { worker } = startTrainThread();
      const seen: string[] = [];
      const done = new Promise<void>((resolve) => worker.on('message', (m: { type: string }) => {
        seen.push(m.type);
        if (m.type === 'done' || m.type === 'error') resolve();
      }));
      worker.postMessage({ type: 'job', settings, batchNews });
      await done;
      await worker.terminate();
      return seen;
    };
    const quiet = await types(false);
    expect(quiet.at(-1)).toBe('done');
    expect(quiet.filter((t) => t === 'epoch')).toHaveLength(3);
    expect(quiet).not.toContain('batch');
    expect((await types(true)).filter((t) => t === 'batch').length).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('is not given when it ended before it was taken', async () => {
    // A fresh module instance: the thread of the test above was given already.
    const { warmTrainThread, takeTrainThread } = await import(`${path.join(ROOT, 'dist', 'cli', 'warm-thread.js')}?ended`);
    const worker = warmTrainThread();
    await worker.terminate();
    await new Promise((r) => setImmediate(r));
    expect(takeTrainThread()).toBeNull();
    const again = warmTrainThread();
    expect(again).not.toBe(worker);  // the ended one is gone: a new one starts
    await Promise.race([once(again, 'online'), new Promise((r) => setTimeout(r, 5000))]);
    expect(takeTrainThread()?.worker).toBe(again);
    await again.terminate();
  }, 60_000);

  it('is not given, and throws nothing, when its modules fail to load', async () => {
    const { warmTrainThread, takeTrainThread } = await import(`${path.join(ROOT, 'dist', 'cli', 'warm-thread.js')}?failed`);
    const dir = tmpDir('warm-thread');
    const script = path.join(dir, 'fails.mjs');
    writeFileSync(script, "throw new Error('this module does not load');\n");
    const worker = warmTrainThread(pathToFileURL(script));
    // Only an 'exit' listener of the test's (events.once would listen for 'error'
    // too): an 'error' event that nobody listens to would throw.
    await new Promise((resolve) => worker.on('exit', resolve));
    expect(takeTrainThread()).toBeNull();
  }, 60_000);
});
