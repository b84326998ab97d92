// deeprnn serve's page: the playground (generation in this browser with ONNX
// Runtime Web from the checkpoint's ONNX export, decoded by deeprnn's own
// Sampler and Rng), the training curves (server-sent events as runs write
// their metrics) and the checkpoints' info. No framework: the DOM by hand.
import type * as Ort from 'onnxruntime-web';
import type { Tokenizer } from '../data/tokenizer.js';
import { Rng } from '../rng.js';
import { checkSampling } from '../generate.js';
import { drawChart, type ChartPoint, type ChartRun } from './chart.js';
import { cardTokenizer, checkCard, generateOnnx, OnnxStepper, type OnnxCard } from './onnx-lm.js';

interface CheckpointEntry {
  name: string;
  bytes: number;
  mtimeMs: number;
}

interface ServerState {
  dir: string;
  selected: string | null;
  playground: { available: true } | { available: false; reason: string };
  checkpoints: CheckpointEntry[];
}

interface RunUpdate {
  name: string;
  reset: boolean;
  removed?: boolean;
  points: ChartPoint[];
}

type Info = Record<string, unknown> & {
  name: string; cell: string; layers: number; hidden: number[]; vocabSize: number; tokenizer: string; parameters: number;
  onnx: { exportable: boolean; reason?: string };
  training: { corpus: string[]; epochsPlanned: number; optimizer: string; lr: number; batchSize: number; numSteps: number } | null;
  history: { epochs: number; bestValPpl: number | null; bestEpoch: number | null; lastValPpl: number | null } | null;
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

async function getJSON<T>(url: string): Promise<T> {
  const r = await fetch(url);
  const body = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(body.error ?? `${url}: HTTP ${r.status}`);
  return body;
}

const q = (name: string) => `name=${encodeURIComponent(name)}`;

// ---- ONNX Runtime Web, loaded once, on first use --------------------------------------

let ortPromise: Promise<typeof Ort> | null = null;

function loadOrt(): Promise<typeof Ort> {
  // A variable specifier: the module is this server's copy, not a package to resolve.
  const url = '/ort/ort.wasm.bundle.min.mjs';
  ortPromise ??= (import(url) as Promise<typeof Ort>).then((ort) => {
    ort.env.wasm.numThreads = 1; // one thread: no cross-origin isolation needed, and a batch-1 step is too small to share
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    return ort;
  });
  return ortPromise;
}

interface LoadedModel {
  name: string;
  card: OnnxCard;
  tokenizer: Tokenizer;
  stepper: OnnxStepper;
}

/** Loaded models by name and modification time: a checkpoint that a run rewrites is loaded again. */
const models = new Map<string, Promise<LoadedModel>>();
/** Each listed checkpoint's modification time (from the server's listing, updated by its events). */
const modified = new Map<string, number>();

function loadModel(name: string): Promise<LoadedModel> {
  const key = `${name}@${modified.get(name) ?? 0}`;
  let p = models.get(key);
  if (!p) {
    for (const k of [...models.keys()]) if (k.startsWith(`${name}@`)) models.delete(k);
    p = (async () => {
      const [ort, card, bytes] = await Promise.all([
        loadOrt(),
        getJSON<unknown>(`/api/card?${q(name)}`).then((c) => checkCard(c, name)),
        fetch(`/api/model.onnx?${q(name)}`).then(async (r) => {
          if (!r.ok) throw new Error(((await r.json()) as { error?: string }).error ?? `HTTP ${r.status}`);
          return new Uint8Array(await r.arrayBuffer());
        }),
      ]);
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      const tensor = (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: readonly number[]) =>
        new ort.Tensor(type, data, dims);
      return { name, card, tokenizer: cardTokenizer(card), stepper: new OnnxStepper(session, tensor, card) };
    })();
    p.catch(() => models.delete(key));
    models.set(key, p);
  }
  return p;
}

// ---- Playground -----------------------------------------------------------------------

let stopRequested = false;

/** Resolves after the page has had a chance to paint. */
function nextFrame(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
let infos = new Map<string, Info>();

function setStatus(text: string): void {
  $('status').textContent = text;
}

/** The form's settings, checked as deeprnn predict checks its options. */
function settings(): { prefix: string; numPreds: number; temperature: number; topK?: number; topP?: number; seed: number } {
  const value = (id: string) => ($<HTMLInputElement>(id).value.trim() || undefined);
  const num = (id: string) => (value(id) === undefined ? undefined : Number(value(id)));
  const numPreds = num('num-preds') ?? 0;
  if (!Number.isSafeInteger(numPreds) || numPreds < 0 || numPreds > 1_000_000) throw new Error('length must be an integer from 0 to 1,000,000');
  const s = checkSampling({ temperature: num('temperature'), topK: num('top-k'), topP: num('top-p'), seed: num('seed') },
    { name: (k) => ({ topK: 'top-k', topP: 'top-p' })[k] ?? k });
  return { prefix: $<HTMLTextAreaElement>('prefix').value, numPreds, ...s };
}

async function generate(ev: Event): Promise<void> {
  ev.preventDefault();
  const name = $<HTMLSelectElement>('model').value;
  const out = $('output');
  const button = $<HTMLButtonElement>('generate');
  const stop = $<HTMLButtonElement>('stop');
  let s;
  try {
    s = settings();
  } catch (e) {
    setStatus((e as Error).message);
    document.body.dataset.generation = 'error';
    return;
  }
  if (!name) return;
  document.body.dataset.generation = 'running';
  button.disabled = true;
  stop.disabled = false;
  stopRequested = false;
  out.replaceChildren();
  try {
    setStatus(`loading ${name}…`);
    const m = await loadModel(name);
    const unknown = m.tokenizer.unknown(s.prefix);
    let text = '';
    let tokens = 0;
    let first = true;
    const prefixEl = document.createElement('span');
    prefixEl.className = 'prefix';
    const bodyEl = document.createTextNode('');
    out.append(prefixEl, bodyEl);
    const t0 = performance.now();
    let lastPaint = t0;
    setStatus('generating…');
    await generateOnnx(m.stepper, m.tokenizer, s.prefix, {
      numPreds: s.numPreds,
      temperature: s.temperature,
      topK: s.topK,
      topP: s.topP,
      rng: new Rng(s.seed),
      stop: () => stopRequested,
      onText: (piece) => {
        if (first) {
          prefixEl.textContent = piece;
          first = false;
          return undefined;
        }
        text += piece;
        tokens++;
        // Stream: show the text and let the page paint about 20 times a second.
        const now = performance.now();
        if (now - lastPaint < 50) return undefined;
        lastPaint = now;
        bodyEl.textContent = text;
        setStatus(`generating… ${tokens} tokens`);
        return nextFrame();
      },
    });
    bodyEl.textContent = text;
    const seconds = (performance.now() - t0) / 1000;
    setStatus(`${tokens} tokens in ${seconds.toFixed(2)} s (${Math.round(tokens / Math.max(seconds, 1e-9))} tokens/s)`
      + `${s.temperature === 0 ? ', greedy' : `, temperature ${s.temperature}, seed ${s.seed}`}`
      + (unknown.length ? `; read as <unk>: ${unknown.slice(0, 10).map((t) => JSON.stringify(t)).join(', ')}` : ''));
    document.body.dataset.tokensPerSecond = String(tokens / Math.max(seconds, 1e-9));
    document.body.dataset.generation = stopRequested ? 'stopped' : 'done';
  } catch (e) {
    setStatus(`error: ${(e as Error).message}`);
    document.body.dataset.generation = 'error';
  } finally {
    button.disabled = false;
    stop.disabled = true;
  }
}

// ---- Checkpoints ------------------------------------------------------------------------

function fmt(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined ? '–' : v.toFixed(digits);
}

async function showCheckpoints(list: CheckpointEntry[], selected: string | null): Promise<void> {
  const select = $<HTMLSelectElement>('model');
  const current = select.value || selected;
  modified.clear();
  for (const c of list) modified.set(c.name, c.mtimeMs);
  const fetched = await Promise.all(list.map(async (c) => {
    try {
      return await getJSON<Info>(`/api/info?${q(c.name)}`);
    } catch (e) {
      return { name: c.name, error: (e as Error).message };
    }
  }));
  infos = new Map();
  const table = document.createElement('table');
  table.innerHTML = '<thead><tr><th>checkpoint</th><th>model</th><th>tokenizer</th><th class="num">parameters</th>'
    + '<th>training</th><th class="num">epochs</th><th class="num">best val ppl (epoch)</th><th class="num">last val ppl</th><th>ONNX</th></tr></thead>';
  const body = document.createElement('tbody');
  select.replaceChildren();
  for (const f of fetched) {
    const tr = document.createElement('tr');
    tr.dataset.name = f.name;
    const cell = (text: string, cls?: string) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      tr.appendChild(td);
    };
    cell(f.name);
    if ('error' in f) {
      cell(String(f.error), 'error');
      body.appendChild(tr);
      continue;
    }
    const info = f as Info;
    infos.set(info.name, info);
    cell(`${info.cell}, ${info.layers} × ${info.hidden.join(', ')}`);
    cell(`${info.tokenizer}, ${info.vocabSize} tokens`);
    cell(info.parameters.toLocaleString('en-US'), 'num');
    cell(info.training ? `${info.training.corpus.join(' ')}; ${info.training.optimizer} lr ${info.training.lr}, `
      + `batch ${info.training.batchSize} × ${info.training.numSteps}` : 'none recorded');
    cell(info.history ? `${info.history.epochs}/${info.training?.epochsPlanned ?? '?'}` : '–', 'num');
    cell(info.history ? `${fmt(info.history.bestValPpl)} (${info.history.bestEpoch ?? '–'})` : '–', 'num');
    cell(fmt(info.history?.lastValPpl), 'num');
    cell(info.onnx.exportable ? 'yes' : `no: ${info.onnx.reason ?? ''}`);
    body.appendChild(tr);
    if (info.onnx.exportable) {
      const opt = document.createElement('option');
      opt.value = info.name;
      opt.textContent = info.name;
      select.appendChild(opt);
    }
  }
  table.appendChild(body);
  $('checkpoints').replaceChildren(list.length ? table : Object.assign(document.createElement('p'), {
    className: 'muted', textContent: 'No checkpoints (*.safetensors) here yet.',
  }));
  if (current && [...select.options].some((o) => o.value === current)) select.value = current;
  const usable = select.options.length > 0;
  $<HTMLButtonElement>('generate').disabled = !usable || document.body.dataset.playground === 'off';
  if (document.body.dataset.playground !== 'off' && document.body.dataset.generation === 'idle') {
    setStatus(usable ? 'ready' : 'no checkpoint here can run in the browser (none, or only cells ONNX cannot express)');
  }
}

// ---- Curves -----------------------------------------------------------------------------

const runs = new Map<string, ChartRun>();

function applyRuns(updates: RunUpdate[]): void {
  for (const u of updates) {
    if (u.removed) {
      runs.delete(u.name);
      continue;
    }
    const run = runs.get(u.name) ?? { name: u.name, points: [] };
    if (u.reset) run.points = [];
    const byEpoch = new Map(run.points.map((p) => [p.epoch, p]));
    for (const p of u.points) byEpoch.set(p.epoch, p);
    run.points = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
    runs.set(u.name, run);
  }
  const list = [...runs.values()].sort((a, b) => a.name.localeCompare(b.name));
  $('runs-empty').hidden = list.some((r) => r.points.length > 0);
  drawChart($('chart'), list);
}

// ---- Start ------------------------------------------------------------------------------

async function start(): Promise<void> {
  $('playground').addEventListener('submit', (ev) => void generate(ev));
  $('stop').addEventListener('click', () => {
    stopRequested = true;
  });
  drawChart($('chart'), []);
  const state = await getJSON<ServerState>('/api/state');
  $('dir').textContent = state.dir;
  if (!state.playground.available) {
    document.body.dataset.playground = 'off';
    setStatus(`the playground is off: ${state.playground.reason}`);
  }
  const source = new EventSource('/api/events');
  source.addEventListener('runs', (e) => applyRuns(JSON.parse((e as MessageEvent<string>).data) as RunUpdate[]));
  source.addEventListener('checkpoints', (e) => void showCheckpoints(JSON.parse((e as MessageEvent<string>).data) as CheckpointEntry[], null));
  await showCheckpoints(state.checkpoints, state.selected);
  document.body.dataset.ready = 'true';
}

start().catch((e: unknown) => {
  setStatus(`error: ${(e as Error).message}`);
  document.body.dataset.generation = 'error';
});
