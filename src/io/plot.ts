// The book's figure: train and validation perplexity against epochs, as an
// SVG with labelled axes, ticks and a legend; several runs overlay.
import { InputError } from '../errors.js';
import { describe } from '../validate.js';
import { fileHead, writeFileAtomic } from './files.js';

export interface PlotRun {
  label: string;
  epochs: { epoch: number; trainPpl: number; valPpl: number }[];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** About `n` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  // By index, and never past a finite value: near the largest double, v += step stops moving or overflows.
  for (let k = Math.ceil(lo / step); out.length <= 4 * n; k++) {
    const v = k * step;
    if (!Number.isFinite(v) || v > hi + step * 1e-9) break;
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

// XML 1.0 has no control characters but tab and the line ends: the others become U+FFFD.
// eslint-disable-next-line no-control-regex
const esc = (s: string) => s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, '\ufffd').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Refuses, naming the field, runs that are not PlotRun[] (before: a TypeError from inside). */
function checkRuns(runs: unknown, title: unknown): asserts runs is PlotRun[] {
  if (!Array.isArray(runs)) throw new InputError(`renderPlot: runs must be an array of {label, epochs}, got ${describe(runs)}`);
  if (typeof title !== 'string') throw new InputError(`renderPlot: title must be a string, got ${describe(title)}`);
  runs.forEach((r: unknown, i) => {
    if (typeof r !== 'object' || r === null) throw new InputError(`renderPlot: runs[${i}] must be {label, epochs}, got ${describe(r)}`);
    const { label, epochs } = r as Partial<PlotRun>;
    if (typeof label !== 'string') throw new InputError(`renderPlot: runs[${i}].label must be a string, got ${describe(label)}`);
    if (!Array.isArray(epochs)) throw new InputError(`renderPlot: runs[${i}].epochs must be an array of {epoch, trainPpl, valPpl}, got ${describe(epochs)}`);
    epochs.forEach((e: unknown, k) => {
      const at = `renderPlot: runs[${i}].epochs[${k}]`;
      if (typeof e !== 'object' || e === null) throw new InputError(`${at} must be {epoch, trainPpl, valPpl}, got ${describe(e)}`);
      const { epoch, trainPpl, valPpl } = e as Partial<PlotRun['epochs'][number]>;
      if (typeof epoch !== 'number' || !Number.isFinite(epoch)) throw new InputError(`${at}.epoch must be a finite number, got ${describe(epoch)}`);
      // (a perplexity that is not finite, a diverged epoch's, is left out of the curve)
      for (const [name, v] of [['trainPpl', trainPpl], ['valPpl', valPpl]] as const) {
        if (typeof v !== 'number') throw new InputError(`${at}.${name} must be a number, got ${describe(v)}`);
      }
    });
  });
}

export function renderPlot(runs: PlotRun[], title = 'perplexity'): string {
  checkRuns(runs, title);
  const W = 720;
  // Tall enough for the legend: two entries a run, 20 px each.
  const H = Math.max(440, 36 + 8 + 40 * runs.length + 52);
  const m = { left: 64, right: 180, top: 36, bottom: 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  // Loops, not Math.min(...values): a spread of many epochs overflows the call stack.
  let [x0, x1, y0, y1] = [1, -Infinity, Infinity, -Infinity];
  for (const r of runs) {
    for (const e of r.epochs) {
      x0 = Math.min(x0, e.epoch);
      x1 = Math.max(x1, e.epoch);
      for (const v of [e.trainPpl, e.valPpl]) {
        if (!Number.isFinite(v)) continue;
        y0 = Math.min(y0, v);
        y1 = Math.max(y1, v);
      }
    }
  }
  x1 = Math.max(x0 + 1, x1);
  if (!Number.isFinite(y0)) [y0, y1] = [0, 1];
  // A flat run gets a range around it (relative, so that it is not lost to rounding at 1e16 and above).
  if (!(y1 - y0 > Math.abs(y1) * 1e-9)) [y0, y1] = [y0 - Math.max(1, Math.abs(y0) * 0.1), y1 + Math.max(1, Math.abs(y1) * 0.1)];
  // Halves first: near the largest double, y1 - y0 and y1 + pad overflow.
  const pad = (y1 / 2 - y0 / 2) * 0.1;
  [y0, y1] = [Math.max(0, y0 - pad), Math.min(Number.MAX_VALUE, y1 + pad)];
  const span = y1 / 2 - y0 / 2;  // half the range, finite
  const X = (v: number) => m.left + ((v - x0) / (x1 - x0)) * pw;
  const Y = (v: number) => m.top + ph - ((v / 2 - y0 / 2) / span) * ph;
  const f = (v: number) => v.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`,
    `<text class="title" x="${m.left + pw / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<g class="axes" stroke="black" fill="none">`,
    `<line class="x-axis" x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}"/>`,
    `<line class="y-axis" x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}"/>`,
    `</g>`,
  ];
  for (const t of ticks(x0, x1).filter((t) => Number.isInteger(t))) {
    out.push(`<g class="x-tick"><line x1="${f(X(t))}" y1="${m.top + ph}" x2="${f(X(t))}" y2="${m.top + ph + 5}" stroke="black"/>`
      + `<text x="${f(X(t))}" y="${m.top + ph + 18}" text-anchor="middle">${t}</text></g>`);
  }
  for (const t of ticks(y0, y1)) {
    out.push(`<g class="y-tick"><line x1="${m.left - 5}" y1="${f(Y(t))}" x2="${m.left}" y2="${f(Y(t))}" stroke="black"/>`
      + `<line x1="${m.left}" y1="${f(Y(t))}" x2="${m.left + pw}" y2="${f(Y(t))}" stroke="#ddd"/>`
      + `<text x="${m.left - 8}" y="${f(Y(t) + 4)}" text-anchor="end">${t}</text></g>`);
  }
  out.push(`<text class="x-label" x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">epoch</text>`);
  out.push(`<text class="y-label" transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">perplexity</text>`);
  let legendY = m.top + 8;
  runs.forEach((r, i) => {
    // Eight colours, then hues spread by the golden angle, so that no two runs share one.
    const color = i < COLORS.length ? COLORS[i]! : `hsl(${Math.round((i * 137.508) % 360)}, 65%, 40%)`;
    for (const [kind, key, dash] of [['train', 'trainPpl', '6 4'], ['val', 'valPpl', '']] as const) {
      const pts = r.epochs.filter((e) => Number.isFinite(e[key])).map((e) => `${f(X(e.epoch))},${f(Y(e[key]))}`);
      const label = `${r.label} ${kind}`;
      out.push(`<polyline class="series" data-label="${esc(label)}" data-points="${pts.length}" points="${pts.join(' ')}" `
        + `fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
      // A line of one point draws nothing: one epoch gets a marker (filled for val, open for train).
      if (pts.length === 1) {
        const [cx, cy] = pts[0]!.split(',');
        out.push(`<circle class="marker" data-label="${esc(label)}" cx="${cx}" cy="${cy}" r="4" stroke="${color}" stroke-width="2" `
          + `fill="${kind === 'val' ? color : 'white'}"/>`);
      }
      out.push(`<g class="legend-item"><line x1="${W - m.right + 16}" y1="${legendY}" x2="${W - m.right + 44}" y2="${legendY}" `
        + `stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`
        + `<text x="${W - m.right + 50}" y="${legendY + 4}">${esc(label)}</text></g>`);
      legendY += 20;
    }
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/**
 * Whether `file` holds something other than an SVG image that a plot may
 * replace: a regular file, not empty, whose first bytes (after a byte-order
 * mark and white space) are none of "<svg", "<?xml" and "<!" (a doctype or a
 * comment, as editors write before <svg>): a user's notes named compare.svg. None there, or not a regular file (the write names what is in
 * the way): false.
 */
export function isForeignSvg(file: string): boolean {
  const text = fileHead(file, 256)?.toString('latin1').replace(/^(\xef\xbb\xbf)?\s*/, '') ?? '';
  return text !== '' && !['<svg', '<?xml', '<!'].some((s) => text.startsWith(s));
}

export function writePlot(file: string, runs: PlotRun[], title?: string): void {
  writeFileAtomic(file, Buffer.from(renderPlot(runs, title)));
}
