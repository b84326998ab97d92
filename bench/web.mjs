// The figures of deeprnn's ONNX export and of deeprnn serve's page, measured:
//   - the size of the ONNX export of the book's model (GRU 2 x 32, vocabulary 28)
//     and of the C-sized model (LSTM 2 x 512, vocabulary 65);
//   - ONNX Runtime (onnxruntime-node) against deeprnn, every cell ONNX expresses:
//     the largest |logit difference| over 200 tokens fed in runs of 1, 57, 100
//     and 42 with the state carried;
//   - in-browser greedy generation (headless Chromium, ONNX Runtime Web WASM,
//     through the page's Generate button): tokens/s of the first run and the
//     median of the next ones, beside deeprnn's native generation of the same
//     model in this process;
//   - the page's first (contentful) paint on loopback, median of fresh loads.
// Asserts nothing. Needs the devDependencies and Debian's chromium.
//
//   node bench/web.mjs [--book CKPT] [--runs DIR] [--screenshot FILE.png] [--repeat N]
//
// --book: the book's trained model (default: the same shape, initialised, which
// generates as fast); --runs: copy DIR's checkpoints and metrics into the served
// directory (their curves show on the page); --screenshot: write the page, after
// a generation with the book's model, to FILE.png.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { RNNLM, Rng, Tokenizer, generate, exportOnnx, OnnxStepper, loadCheckpoint } = await import(path.join(root, 'dist', 'index.js'));

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const repeat = Number(opt('--repeat', '5'));
const CHROMIUM = process.env.DEEPRNN_CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const book = readFileSync(path.join(root, 'data', 'timemachine.txt'), 'utf8');

const work = mkdtempSync(path.join(os.tmpdir(), 'deeprnn-web-bench-'));
const served = path.join(work, 'runs');
const profile = path.join(work, 'chromium');
let server;
let context;
try {
  // ---- the models --------------------------------------------------------------------------
  const { mkdirSync } = await import('node:fs');
  mkdirSync(served);
  if (opt('--runs')) {
    for (const f of readdirSync(opt('--runs'))) {
      if (/\.(safetensors|metrics\.jsonl)$/.test(f) && !/\.e\d{4}/.test(f)) copyFileSync(path.join(opt('--runs'), f), path.join(served, f));
    }
  }
  const d2l = Tokenizer.fit('d2l', book);
  const bookFile = path.join(served, 'book-gru.safetensors');
  if (opt('--book')) copyFileSync(opt('--book'), bookFile);
  else new RNNLM({ cell: 'gru', vocabSize: d2l.vocab.size, hidden: [32, 32], dropout: 0 }, new Rng(1)).save(bookFile, { tokenizer: d2l });
  // 64 characters and <unk>: the size of tiny Shakespeare's vocabulary.
  const chars = Tokenizer.fit('char', ` abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,;:!?'-\n"(`);
  const cFile = path.join(served, 'c-lstm-2x512.safetensors');
  new RNNLM({ cell: 'lstm', vocabSize: chars.vocab.size, hidden: [512, 512], dropout: 0 }, new Rng(1)).save(cFile, { tokenizer: chars });
  const models = [
    { label: "the book's model (GRU 2 x 32, V 28)", file: bookFile, prefix: 'time traveller', tokens: 5000 },
    { label: 'C-sized model (LSTM 2 x 512, V 65)', file: cFile, prefix: 'The Time', tokens: 1000 },
  ];

  console.log('== ONNX export size');
  for (const m of models) {
    const ck = loadCheckpoint(m.file);
    m.ck = ck;
    const { bytes } = exportOnnx(ck.model, ck.tokenizer);
    console.log(`${m.label}: ${bytes.length.toLocaleString('en-US')} bytes (${(bytes.length / 1024).toFixed(1)} KiB), ${ck.model.params.length.toLocaleString('en-US')} parameters`);
  }

  console.log('== ONNX Runtime (onnxruntime-node) against deeprnn: max |logit difference|, 200 tokens in runs of 1, 57, 100, 42, state carried');
  const ids = d2l.encode(book.slice(30_000, 30_400)).slice(0, 200);
  for (const cell of ['rnn', 'rnn-relu', 'gru', 'lstm']) {
    const row = [];
    for (const hidden of [[32], [32, 32], [48, 32, 16]]) {
      const model = new RNNLM({ cell, vocabSize: d2l.vocab.size, hidden, dropout: 0 }, new Rng(7));
      // Weights scaled up from the initialisation so that the units saturate as a trained model's do (ReLU units, unbounded, less).
      const scale = cell === 'rnn-relu' ? 1.5 : 2.5;
      for (let i = 0; i < model.params.length; i++) model.params[i] *= scale;
      const { bytes, card } = exportOnnx(model, d2l);
      const st = new OnnxStepper(await ort.InferenceSession.create(bytes), (t, d, dims) => new ort.Tensor(t, d, dims), card);
      const ref = model.stepper();
      let max = 0;
      let at = 0;
      for (const n of [1, 57, 100, 42]) {
        const got = await st.feedAll(ids.subarray(at, at + n));
        for (let t = 0; t < n; t++) {
          const want = ref.feed(ids[at + t]);
          for (let v = 0; v < want.length; v++) max = Math.max(max, Math.abs(want[v] - got[t * want.length + v]));
        }
        at += n;
      }
      row.push(`${hidden.join('x')}: ${max.toExponential(2)}`);
    }
    console.log(`${cell.padEnd(8)} ${row.join('   ')}`);
  }

  console.log("== deeprnn's native greedy generation, this process, one thread");
  for (const m of models) {
    const times = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      generate(m.ck.model, m.ck.tokenizer, m.prefix, { numPreds: m.tokens });
      times.push(m.tokens / ((performance.now() - t0) / 1000));
    }
    console.log(`${m.label}: ${Math.round(median(times)).toLocaleString('en-US')} tokens/s (median of 3 x ${m.tokens} tokens)`);
  }

  // ---- the page ----------------------------------------------------------------------------
  server = spawn(process.execPath, [path.join(root, 'bin', 'deeprnn.js'), 'serve', bookFile, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    server.stdout.setEncoding('utf8').on('data', (d) => {
      const m = /at (http:\/\/\S+\/)/.exec(d);
      if (m) resolve(m[1]);
    });
    server.on('close', (code) => reject(new Error(`deeprnn serve exited with ${code}`)));
  });
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 } });
  const errors = [];

  console.log(`== first paint of ${url} (fresh page each time; the browser's cache is warm after the first)`);
  const paints = [];
  for (let i = 0; i < repeat; i++) {
    const p = await context.newPage();
    await p.goto(url);
    await p.waitForSelector('body[data-ready=true]');
    const t = await p.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const nav = performance.getEntriesByType('navigation')[0];
      return { fcp: fcp?.startTime ?? NaN, ready: performance.now(), domContentLoaded: nav?.domContentLoadedEventEnd ?? NaN };
    });
    paints.push(t);
    await p.close();
  }
  console.log(`first contentful paint: median ${median(paints.map((t) => t.fcp)).toFixed(0)} ms (each: ${paints.map((t) => t.fcp.toFixed(0)).join(', ')}); `
    + `first load ${paints[0].fcp.toFixed(0)} ms; DOMContentLoaded median ${median(paints.map((t) => t.domContentLoaded)).toFixed(0)} ms; `
    + `checkpoints and curves shown (ready) median ${median(paints.map((t) => t.ready)).toFixed(0)} ms`);

  console.log('== in-browser greedy generation (ONNX Runtime Web, WASM, one thread), through the page');
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]');
  for (const m of models) {
    await page.selectOption('#model', path.basename(m.file));
    await page.fill('#prefix', m.prefix);
    await page.fill('#temperature', '0');
    await page.fill('#num-preds', String(m.tokens));
    const rates = [];
    for (let r = 0; r < repeat; r++) {
      await page.click('#generate');
      await page.waitForSelector('body[data-generation=done], body[data-generation=error]', { timeout: 300_000 });
      if ((await page.getAttribute('body', 'data-generation')) !== 'done') throw new Error(await page.textContent('#status'));
      rates.push(Number(await page.getAttribute('body', 'data-tokens-per-second')));
    }
    const text = (await page.textContent('#output')).slice(0, 60);
    const predicted = generate(m.ck.model, m.ck.tokenizer, m.prefix, { numPreds: m.tokens });
    const same = (await page.textContent('#output')) === predicted;
    console.log(`${m.label}: first run ${Math.round(rates[0]).toLocaleString('en-US')} tokens/s, then median ${Math.round(median(rates.slice(1))).toLocaleString('en-US')} `
      + `(${rates.slice(1).map((x) => Math.round(x)).join(', ')}) over ${m.tokens} tokens; same text as deeprnn: ${same} (${JSON.stringify(text)}...)`);
  }

  if (opt('--screenshot')) {
    await page.selectOption('#model', path.basename(bookFile));
    await page.fill('#prefix', 'the time traveller');
    await page.fill('#num-preds', '300');
    await page.click('#generate');
    await page.waitForSelector('body[data-generation=done]');
    await page.screenshot({ path: opt('--screenshot'), fullPage: true });
    console.log(`== wrote ${opt('--screenshot')}`);
  }
  console.log(errors.length ? `console errors: ${errors.join(' | ')}` : 'no console errors');
} finally {
  await context?.close();
  server?.kill();
  rmSync(work, { recursive: true, force: true });
}
