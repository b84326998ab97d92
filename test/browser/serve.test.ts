// deeprnn serve's page in a real browser: Debian's headless Chromium driven by
// playwright-core. The page loads with no console error; the playground
// generates in the browser (ONNX Runtime Web, WASM) the text `deeprnn predict`
// prints for the same prefix and settings, greedy and sampled; a training
// run's curve appears and grows while the run writes its metrics; and the test
// leaves a screenshot of the page (its path is printed). Without Chromium the
// tests are skipped with the reason (.ci/run installs it with apt).
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, QUICK, run } from '../helpers/cli.js';
import { BIN } from '../helpers/paths.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { tmpDir } from '../helpers/tmp.js';

/** Debian's chromium (apt-get install chromium), or $DEEPRNN_CHROMIUM. */
const CHROMIUM = process.env.DEEPRNN_CHROMIUM || '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  console.log(`test/browser/serve.test.ts: skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set DEEPRNN_CHROMIUM); .ci/run installs it`);
}
/** Where the screenshot goes ($DEEPRNN_SCREENSHOT, else the system's temporary directory). */
const SCREENSHOT = process.env.DEEPRNN_SCREENSHOT || path.join(os.tmpdir(), 'deeprnn-serve.png');

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

const dir = tmpDir();
const model = path.join(dir, 'book.safetensors');
let served: ServeProcess;
let context: BrowserContext;
let page: Page;
let profile: string;
const problems: string[] = [];

describe.skipIf(!HAVE_CHROMIUM)('the page in headless Chromium', () => {
  beforeAll(async () => {
    const r = await cli(['train', ...QUICK, '--epochs', '3', '--hidden', '24', '--out', model]);
    expect(r.code, r.stderr).toBe(0);
    served = await startServe([model]);
    profile = mkdtempSync(path.join(os.tmpdir(), 'deeprnn-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => {
      if (!r.url().endsWith('/api/events')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
    });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(served.url);
    await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** Generates in the page with the form's settings; returns the output's text. */
  async function generateInPage(settings: Record<string, string>): Promise<string> {
    for (const id of ['prefix', 'temperature', 'top-k', 'top-p', 'num-preds', 'seed']) await page.fill(`#${id}`, settings[id] ?? '');
    await page.click('#generate');
    await page.waitForSelector('body[data-generation=done], body[data-generation=error]', { timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-generation'), (await page.textContent('#status')) ?? '').toBe('done');
    return (await page.textContent('#output')) ?? '';
  }

  it('loads with no console error and lists the checkpoint with its info', async () => {
    expect(await page.inputValue('#model')).toBe('book.safetensors');
    const row = page.locator('#checkpoints tr[data-name="book.safetensors"]');
    expect(await row.textContent()).toContain('gru, 2 × 24, 24');
    expect(problems).toEqual([]);
  });

  it('generates in the browser the text deeprnn predict prints: greedy, an empty prefix, one of two lines, and sampled with the same seed', async () => {
    const cases: [Record<string, string>, string[]][] = [
      [{ prefix: 'the time traveller', 'num-preds': '200', temperature: '0', seed: '42' }, []],
      [{ prefix: '', 'num-preds': '80', temperature: '0', seed: '42' }, []],
      // a prefix of two lines (before, a one-line input dropped the line break)
      [{ prefix: 'the time\ntraveller', 'num-preds': '40', temperature: '0', seed: '42' }, []],
      [{ prefix: 'it was', 'num-preds': '150', temperature: '0.8', 'top-k': '5', 'top-p': '0.95', seed: '7' },
        ['--temperature', '0.8', '--top-k', '5', '--top-p', '0.95', '--seed', '7']],
    ];
    for (const [settings, flags] of cases) {
      const predicted = await cli(['predict', settings.prefix!, '--model', model, '--num-preds', settings['num-preds']!, ...flags]);
      expect(predicted.code).toBe(0);
      const text = await generateInPage(settings);
      expect(text + '\n', JSON.stringify(settings)).toBe(predicted.stdout);
      console.log(`browser: ${await page.textContent('#status')}`);
    }
    // The form's settings are checked as predict checks its options, with the form's names.
    // (What the inputs' own constraints refuse, a negative length, never reaches the page's code.)
    for (const [id, value, message] of [['top-k', '3', 'top-k needs sampling: give temperature above 0'],
      ['num-preds', '2000000', 'length must be an integer from 0 to 1,000,000']]) {
      await page.evaluate(() => (document.body.dataset.generation = 'idle'));
      await page.fill('#temperature', '0');
      await page.fill('#top-k', '');
      await page.fill('#num-preds', '10');
      await page.fill(`#${id}`, value!);
      await page.click('#generate');
      await page.waitForSelector('body[data-generation=error]');
      expect(await page.textContent('#status')).toBe(message);
    }
    expect(problems).toEqual([]);
  });

  /** Points of a run's validation curve now, 0 when it is not drawn. */
  const pointsOf = (name: string) => page.evaluate((run) =>
    Number(document.querySelector(`#chart g.run[data-run="${run}"] path.val`)?.getAttribute('data-points') ?? 0), name);

  it('shows a run that starts, and its curve grows with each epoch it writes (server-sent events)', async () => {
    // Epochs written by hand, one at a time: each one shows up before the next is written.
    const manual = path.join(dir, 'manual.metrics.jsonl');
    for (let epoch = 1; epoch <= 3; epoch++) {
      appendFileSync(manual, `${JSON.stringify({ epoch, train_ppl: 20 - epoch, val_ppl: 21 - epoch })}\n`);
      await page.waitForSelector(`#chart g.run[data-run="manual"] path.val[data-points="${epoch}"]`, { state: 'attached', timeout: 10_000 });
    }
    // A real training run in the served directory: the book's model, one thread, a few tenths of a second an epoch.
    const epochs = 8;
    const seen: number[] = [];
    const training = run(process.execPath, [BIN, 'train', '--epochs', String(epochs), '--threads', '1', '--num-train', '4000', '--num-val', '1000',
      '--out', path.join(dir, 'live.safetensors')]);
    let done = false;
    void training.then(() => (done = true));
    while (!done) {
      seen.push(await pointsOf('live'));
      await page.waitForTimeout(100);
    }
    const r = await training;
    expect(r.code, r.stderr).toBe(0);
    await page.waitForSelector(`#chart g.run[data-run="live"] path.val[data-points="${epochs}"]`, { state: 'attached', timeout: 10_000 });
    seen.push(await pointsOf('live'));
    console.log(`browser: the live run's curve had ${[...new Set(seen)].join(', ')} points as it trained`);
    expect(seen.every((n, i) => i === 0 || n >= seen[i - 1]!), `points seen while training: ${seen.join(',')}`).toBe(true);
    expect(seen.some((n) => n > 0 && n < epochs), `points seen while training: ${seen.join(',')}`).toBe(true);
    expect(await page.getAttribute('#chart g.run[data-run="live"] circle.best', 'data-epoch')).toMatch(/^\d+$/);
    // The new checkpoints come into the list as well.
    await page.waitForSelector('#checkpoints tr[data-name="live.safetensors"]', { timeout: 10_000 });
    expect(problems).toEqual([]);
  });

  it('generates from the newest weights of a checkpoint that was rewritten after the page loaded it', async () => {
    const settings = { prefix: 'the time', 'num-preds': '60', temperature: '0', seed: '42' };
    await page.selectOption('#model', 'book.safetensors');
    const before = await generateInPage(settings);
    expect(before + '\n').toBe((await cli(['predict', 'the time', '--model', model, '--num-preds', '60'])).stdout);
    // Another model (the live run's: 2 x 32) written over it, as a training run rewrites its checkpoint.
    copyFileSync(path.join(dir, 'live.safetensors'), model);
    await page.waitForFunction(() => document.querySelector('#checkpoints tr[data-name="book.safetensors"]')?.textContent?.includes('gru, 2 × 32, 32'),
      undefined, { timeout: 10_000 });
    const after = await generateInPage(settings);
    expect(after + '\n').toBe((await cli(['predict', 'the time', '--model', model, '--num-preds', '60'])).stdout);
    expect(after).not.toBe(before);
    expect(problems).toEqual([]);
  });

  it('leaves a screenshot of the page', async () => {
    await page.fill('#num-preds', '300');
    await page.fill('#prefix', 'the time traveller');
    await page.fill('#temperature', '0');
    await page.fill('#top-k', '');
    await page.fill('#top-p', '');
    await page.click('#generate');
    await page.waitForSelector('body[data-generation=done]', { timeout: 60_000 });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(readFileSync(SCREENSHOT).subarray(1, 4).toString()).toBe('PNG');
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(20_000);
    console.log(`browser: screenshot of the page: ${SCREENSHOT}`);
    expect(problems).toEqual([]);
  });
});
