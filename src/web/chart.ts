// The training curves: perplexity against epoch for every run, overlaid, on
// a log scale; validation solid, training dashed, each run's best validation
// epoch marked. Plain SVG, redrawn whole when a run changes (a few hundred
// points at most per run).

export interface ChartPoint {
  epoch: number;
  trainPpl: number | null;
  valPpl: number | null;
}

export interface ChartRun {
  name: string;
  points: ChartPoint[];
}

const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#2f6fb0', '#d0632a', '#3a9a4a', '#9a3fb0', '#b0902f', '#2fa4b0', '#b02f5c', '#5c5c5c'];

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.appendChild(e);
  return e;
}

/** Round numbers for a log axis between lo and hi: 1, 2, 5 times powers of ten, finer (1-9) when those are too few. */
function logTicks(lo: number, hi: number): number[] {
  for (const mantissas of [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9]]) {
    const ticks: number[] = [];
    for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** p).toPrecision(3));
        if (v >= lo && v <= hi) ticks.push(v);
      }
    }
    if (ticks.length >= 3) return ticks;
  }
  return [Number(lo.toPrecision(3)), Number(hi.toPrecision(3))];
}

/** About `count` round epochs from 1 to max. */
function epochTicks(max: number, count = 8): number[] {
  const raw = max / count;
  const step = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000].find((s) => s >= raw) ?? Math.ceil(raw);
  const ticks = [1];
  for (let e = step; e <= max; e += step) if (e > 1) ticks.push(e);
  return ticks;
}

/** The epoch with the lowest validation perplexity. */
export function bestEpoch(points: ChartPoint[]): ChartPoint | null {
  let best: ChartPoint | null = null;
  for (const p of points) if (p.valPpl !== null && (best === null || p.valPpl < best.valPpl!)) best = p;
  return best;
}

/** Draws the runs into `host` (replacing what was there). */
export function drawChart(host: HTMLElement, runs: ChartRun[]): void {
  const W = 640;
  const H = 360;
  const m = { l: 48, r: 12, t: 12, b: 34 };
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'perplexity per epoch' });
  const shown = runs.filter((r) => r.points.length > 0);
  let maxEpoch = 1;
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of shown) {
    for (const p of r.points) {
      maxEpoch = Math.max(maxEpoch, p.epoch);
      for (const v of [p.trainPpl, p.valPpl]) {
        if (v !== null && v > 0) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
  }
  if (!(lo <= hi)) {
    lo = 1;
    hi = 10;
  }
  if (hi / lo < 1.5) {
    lo /= 1.2;
    hi *= 1.2;
  }
  const x = (e: number) => m.l + ((e - (maxEpoch > 1 ? 1 : 0)) / Math.max(1, maxEpoch - 1)) * (W - m.l - m.r);
  const y = (v: number) => m.t + (1 - (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * (H - m.t - m.b);

  const axes = el('g', { class: 'axes' }, svg);
  el('line', { class: 'axis', x1: m.l, y1: H - m.b, x2: W - m.r, y2: H - m.b }, axes);
  el('line', { class: 'axis', x1: m.l, y1: m.t, x2: m.l, y2: H - m.b }, axes);
  for (const v of logTicks(lo, hi)) {
    el('line', { class: 'axis', x1: m.l, y1: y(v), x2: W - m.r, y2: y(v), 'stroke-opacity': 0.5 }, axes);
    el('text', { x: m.l - 4, y: y(v) + 4, 'text-anchor': 'end' }, axes).textContent = String(v);
  }
  for (const e of epochTicks(maxEpoch)) {
    el('text', { x: x(e), y: H - m.b + 14, 'text-anchor': 'middle' }, axes).textContent = String(e);
  }
  el('text', { x: (m.l + W - m.r) / 2, y: H - 4, 'text-anchor': 'middle' }, axes).textContent = 'epoch';
  el('text', { x: 12, y: m.t + (H - m.t - m.b) / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${m.t + (H - m.t - m.b) / 2})` }, axes)
    .textContent = 'perplexity';

  const legend = el('g', { class: 'legend' }, svg);
  shown.forEach((r, i) => {
    const color = COLORS[i % COLORS.length]!;
    const g = el('g', { class: 'run', 'data-run': r.name }, svg);
    for (const split of ['train', 'val'] as const) {
      const pts = r.points.filter((p) => (split === 'val' ? p.valPpl : p.trainPpl) !== null);
      const d = pts.map((p, k) => `${k ? 'L' : 'M'}${x(p.epoch).toFixed(1)},${y((split === 'val' ? p.valPpl : p.trainPpl)!).toFixed(1)}`).join('');
      el('path', { class: `curve ${split}`, d: d || 'M0,0', stroke: color, 'data-split': split, 'data-points': pts.length }, g);
    }
    const best = bestEpoch(r.points);
    if (best) {
      const c = el('circle', { class: 'best', cx: x(best.epoch), cy: y(best.valPpl!), r: 4, fill: color, 'data-epoch': best.epoch }, g);
      el('title', {}, c).textContent = `${r.name}: best val ppl ${best.valPpl!.toFixed(3)} at epoch ${best.epoch}`;
    }
    const ly = m.t + 10 + i * 15;
    el('line', { x1: W - m.r - 190, y1: ly - 4, x2: W - m.r - 172, y2: ly - 4, stroke: color, 'stroke-width': 2 }, legend);
    const last = r.points[r.points.length - 1]!;
    el('text', { x: W - m.r - 166, y: ly }, legend).textContent = `${r.name} (${last.epoch} ep${best ? `, best ${best.valPpl!.toFixed(2)} @${best.epoch}` : ''})`;
  });
  host.replaceChildren(svg);
}
