// The perplexity figure at its edges: one epoch, values near the largest
// double, a flat run far from 1, titles with control characters, runs whose
// files share a name, and metrics lines that are not objects.
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isForeignSvg, renderPlot, ticks } from '../../src/io/plot.js';
import { readMetricsFile } from '../../src/train/metrics.js';
import { cli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
/** Every y of the series' points and markers, which must lie in the plot area (36 to 388). */
function ys(svg: string): number[] {
  const pts = [...svg.matchAll(/ points="([^"]*)"/g)].flatMap((m) => m[1]!.split(' ').filter(Boolean).map((p) => Number(p.split(',')[1])));
  const cys = [...svg.matchAll(/cy="([^"]*)"/g)].map((m) => Number(m[1]));
  return [...pts, ...cys];
}

describe('the perplexity figure', () => {
  it('one epoch is drawn as markers (a line of one point draws nothing)', () => {
    const svg = renderPlot([{ label: 'one', epochs: [{ epoch: 1, trainPpl: 5, valPpl: 6 }] }]);
    expect(svg.match(/<circle class="marker"/g)).toHaveLength(2);
    expect(renderPlot([{ label: 'two', epochs: [{ epoch: 1, trainPpl: 5, valPpl: 6 }, { epoch: 2, trainPpl: 4, valPpl: 5 }] }])).not.toContain('<circle');
  });

  it('values near the largest double and a flat run at 1e16 stay on the plot, with ticks', () => {
    for (const epochs of [
      [{ epoch: 1, trainPpl: 1.79e308, valPpl: 1.7e308 }, { epoch: 2, trainPpl: 5, valPpl: 6 }],
      [{ epoch: 1, trainPpl: 1.79e308, valPpl: 1.79e308 }],
      [{ epoch: 1, trainPpl: 1e16, valPpl: 1e16 }, { epoch: 2, trainPpl: 1e16, valPpl: 1e16 }],
    ]) {
      const svg = renderPlot([{ label: 'big', epochs }]);
      expect(svg).not.toContain('NaN');
      for (const y of ys(svg)) expect(y).toBeGreaterThanOrEqual(36), expect(y).toBeLessThanOrEqual(388);
      expect(svg.match(/class="y-tick"/g)!.length).toBeGreaterThanOrEqual(2);
    }
    expect(ticks(0, Number.MAX_VALUE)).toEqual([0, 5e307, 1e308, 1.5e308]);
  });

  it('twelve runs: twelve colours, and a figure tall enough for every legend entry', () => {
    const runs = Array.from({ length: 12 }, (_, i) => ({ label: `r${i}`, epochs: [{ epoch: 1, trainPpl: 5 + i, valPpl: 6 + i }, { epoch: 2, trainPpl: 4 + i, valPpl: 5 + i }] }));
    const svg = renderPlot(runs);
    const height = Number(/height="(\d+)"/.exec(svg)![1]);
    const legendYs = [...svg.matchAll(/<g class="legend-item"><line [^>]*y1="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(legendYs).toHaveLength(24);
    expect(Math.max(...legendYs)).toBeLessThan(height);
    const colours = new Set([...svg.matchAll(/<polyline [^>]*stroke="([^"]+)"/g)].map((m) => m[1]));
    expect(colours.size).toBe(12);
  });

  it('a title with control characters is still well-formed XML (they become U+FFFD)', () => {
    const svg = renderPlot([{ label: 'a', epochs: [{ epoch: 1, trainPpl: 5, valPpl: 6 }] }], 'a\x01b\x1fc');
    expect(svg).toContain('<title>a\ufffdb\ufffdc</title>');
  });

  it('plot labels runs whose files share a name by their paths', async () => {
    for (const d of ['r1', 'r2']) {
      (await import('node:fs')).mkdirSync(path.join(dir, d));
      writeFileSync(path.join(dir, d, 'deeprnn.metrics.jsonl'), '{"epoch":1,"trainPpl":5,"valPpl":6}\n');
    }
    const a = path.join(dir, 'r1', 'deeprnn.metrics.jsonl'), b = path.join(dir, 'r2', 'deeprnn.metrics.jsonl');
    const r = await cli(['plot', a, b, '-o', path.join(dir, 'same.svg'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).runs.map((x: { label: string }) => x.label)).toEqual([path.join(dir, 'r1', 'deeprnn'), path.join(dir, 'r2', 'deeprnn')]);
  });

  it('plot refuses one metrics file given twice, by any spelling (two runs of one label)', async () => {
    const f = path.join(dir, 'twice.metrics.jsonl');
    writeFileSync(f, '{"epoch":1,"trainPpl":3,"valPpl":2}\n');
    const again = path.join(dir, '.', 'twice.metrics.jsonl').replace(dir, `${dir}/../${path.basename(dir)}`);
    const r = await cli(['plot', f, again, '-o', path.join(dir, 'twice.svg')]);
    expect(r.stderr).toBe(`deeprnn: error: metrics file ${again} is ${f} again: each run is plotted once\n`);
    expect(r.code).toBe(2);
  });

  it('a metrics file too large to read as text is named with its size (before: V8\'s bare string-length error)', () => {
    const f = path.join(dir, 'huge.metrics.jsonl');
    writeFileSync(f, '');
    truncateSync(f, 600 * 2 ** 20); // sparse: no disk
    expect(() => readMetricsFile(f)).toThrow(`metrics file ${f} is 629,145,600 bytes, more than can be read as text here (about 512 MiB)`);
    rmSync(f);
  });

  it('renderPlot refuses, naming the field, runs that are not {label, epochs} (before: a TypeError from inside)', () => {
    const epoch = { epoch: 1, trainPpl: 5, valPpl: 6 };
    const cases: [unknown, string][] = [
      [null, 'runs must be an array of {label, epochs}, got null'],
      [{ label: 'a' }, 'runs must be an array of {label, epochs}, got an object with keys label'],
      [[null], 'runs[0] must be {label, epochs}, got null'],
      [[{ label: 'a' }], 'runs[0].epochs must be an array of {epoch, trainPpl, valPpl}, got nothing (undefined)'],
      [[{ label: 'a', epochs: [epoch] }, { epochs: [epoch] }], 'runs[1].label must be a string, got nothing (undefined)'],
      [[{ label: 'a', epochs: [epoch, 3] }], 'runs[0].epochs[1] must be {epoch, trainPpl, valPpl}, got 3'],
      [[{ label: 'a', epochs: [{ ...epoch, epoch: NaN }] }], 'runs[0].epochs[0].epoch must be a finite number, got NaN'],
      [[{ label: 'a', epochs: [{ ...epoch, epoch: '1' }] }], 'runs[0].epochs[0].epoch must be a finite number, got "1"'],
      [[{ label: 'a', epochs: [{ ...epoch, valPpl: '6' }] }], 'runs[0].epochs[0].valPpl must be a number, got "6"'],
    ];
    for (const [runs, msg] of cases) expect(() => renderPlot(runs as never), msg).toThrow(`renderPlot: ${msg}`);
    expect(() => renderPlot([], 3 as never)).toThrow('renderPlot: title must be a string, got 3');
    // a perplexity that is not finite (a diverged epoch, an absent value) is a gap in the curve, as before
    expect(renderPlot([{ label: 'a', epochs: [epoch, { epoch: 2, trainPpl: NaN, valPpl: Infinity }] }])).toContain('<svg');
  });

  it('a perplexity below 1 is refused, naming the line (it would be drawn off the axes)', () => {
    const f = path.join(dir, 'low.metrics.jsonl');
    writeFileSync(f, '{"epoch":1,"trainPpl":3,"valPpl":2}\n{"epoch":2,"trainPpl":-4,"valPpl":0.5}\n');
    expect(() => readMetricsFile(f)).toThrow(`metrics file ${f}: line 2 has trainPpl -4, but a perplexity is at least 1`);
  });

  it('a perplexity that is not a number is refused, naming the line (before, it was read as a gap)', () => {
    const f = path.join(dir, 'text.metrics.jsonl');
    writeFileSync(f, '{"epoch":1,"trainPpl":5,"valPpl":6}\n{"epoch":2,"trainPpl":"4","valPpl":"x"}\n');
    expect(() => readMetricsFile(f)).toThrow(`metrics file ${f}: line 2 has trainPpl "4", which is not a number`);
    writeFileSync(f, '{"epoch":1,"trainPpl":5,"valPpl":true}\n');
    expect(() => readMetricsFile(f)).toThrow(`metrics file ${f}: line 1 has valPpl true, which is not a number`);
    writeFileSync(f, '{"epoch":1,"train_ppl":"4","val_ppl":6}\n');
    expect(() => readMetricsFile(f)).toThrow(`metrics file ${f}: line 1 has train_ppl "4", which is not a number`);
    // Absent or null is an epoch without that value.
    writeFileSync(f, '{"epoch":1,"trainPpl":5,"valPpl":null}\n{"epoch":2,"trainPpl":4}\n');
    expect(readMetricsFile(f).map((p) => [p.epoch, p.trainPpl, p.valPpl])).toEqual([[1, 5, NaN], [2, 4, NaN]]);
  });

  it('a metrics line that is JSON but not an object is named', () => {
    for (const line of ['null', '[1,2]', '3']) {
      const f = path.join(dir, 'bad.metrics.jsonl');
      writeFileSync(f, `${line}\n`);
      expect(() => readMetricsFile(f)).toThrow(`metrics file ${f}: line 1 is not a JSON object with an "epoch"`);
    }
  });

  it("plot -o and compare's compare.svg refuse to replace a file that is not an SVG image, before any work (before, it was replaced)", async () => {
    const f = path.join(dir, 'mine.svg');
    for (const [text, foreign] of [['my notes', true], ['', false], ['<svg xmlns="x"/>', false], ['\ufeff\n <?xml version="1.0"?><svg/>', false], ['  <svg', false], ['{}', true],
      ['<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n<svg/>', false], ['<!-- drawn by hand -->\n<svg/>', false], ['<html>', true]] as const) {
      writeFileSync(f, text);
      expect(isForeignSvg(f), JSON.stringify(text)).toBe(foreign);
    }
    expect(isForeignSvg(path.join(dir, 'none.svg'))).toBe(false);
    expect(isForeignSvg(dir)).toBe(false);
    const m = path.join(dir, 'ok.metrics.jsonl');
    writeFileSync(m, '{"epoch":1,"trainPpl":3,"valPpl":2}\n');
    writeFileSync(f, 'my notes');
    const p = await cli(['plot', m, '-o', f]);
    expect([p.code, p.stdout, p.stderr]).toEqual([2, '', `deeprnn: error: --out ${f} would replace a file that is not an SVG image `
      + '(it begins with none of "<svg", "<?xml" and "<!"): move it away, or choose another --out\n']);
    expect(readFileSync(f, 'utf8')).toBe('my notes');
    const out = path.join(dir, 'cmp');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'compare.svg'), 'my notes');
    const c = await cli(['compare', '--cells', 'rnn', '--epochs', '1', '--hidden', '4', '--num-train', '64', '--num-val', '32', '--batch-size', '32', '--out-dir', out]);
    expect([c.code, c.stdout, c.stderr]).toEqual([2, '', `deeprnn: error: the comparison plot ${path.join(out, 'compare.svg')} would replace a file that is not an SVG image `
      + '(it begins with none of "<svg", "<?xml" and "<!"): move it away, or choose another --out-dir\n']);
    expect(readFileSync(path.join(out, 'compare.svg'), 'utf8')).toBe('my notes');
    // An SVG (an earlier plot's) is replaced.
    writeFileSync(f, '<svg xmlns="http://www.w3.org/2000/svg"/>');
    expect((await cli(['plot', m, '-o', f])).code).toBe(0);
    expect(readFileSync(f, 'utf8')).toContain('<title>perplexity</title>');
  });
});
