// Training features seen from the command line: optimizers and schedules in
// the checkpoint and metrics, resume with optimizer state, early stopping,
// per-layer sizes, clipping by value, the SVG plot, plot and compare.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrainingCheckpoint } from '../../src/io/checkpoint.js';
import { cli, QUICK } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();

/** The SVG's series as {label: point count}, and its axis labels. */
function parseSvg(svg: string) {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg.trim().endsWith('</svg>')).toBe(true);
  const series = Object.fromEntries([...svg.matchAll(/<polyline class="series" data-label="([^"]+)" data-points="(\d+)" points="([^"]*)"/g)]
    .map((m) => {
      const pts = m[3]!.split(' ').filter(Boolean);
      expect(pts).toHaveLength(Number(m[2]));
      for (const p of pts) expect(p).toMatch(/^\d+(\.\d+)?,\d+(\.\d+)?$/);
      return [m[1]!, pts.length];
    }));
  const labels = [...svg.matchAll(/<text class="([xy])-label"[^>]*>([^<]+)<\/text>/g)].map((m) => `${m[1]}:${m[2]}`);
  const legend = [...svg.matchAll(/<g class="legend-item">.*?<text[^>]*>([^<]+)<\/text><\/g>/g)].map((m) => m[1]);
  const xTicks = (svg.match(/class="x-tick"/g) ?? []).length;
  const yTicks = (svg.match(/class="y-tick"/g) ?? []).length;
  return { series, labels, legend, xTicks, yTicks };
}

describe('training features', () => {
  it('Adam with a cosine schedule writes metrics and a plot, and resumes with its state', async () => {
    const out = path.join(dir, 'adam.safetensors');
    const args = ['train', ...QUICK, '--epochs', '4', '--optimizer', 'adam', '--lr-schedule', 'cosine', '--warmup', '3', '--hidden', '20,12', '--out', out];
    const r = (await cli(args));
    expect(r.code).toBe(0);
    const lines = readFileSync(path.join(dir, 'adam.metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.epoch)).toEqual([1, 2, 3, 4]);
    for (const l of lines) {
      expect(Object.keys(l)).toEqual(['epoch', 'trainLoss', 'trainPpl', 'trainBits', 'valLoss', 'valPpl', 'valBits', 'valAcc', 'tokensPerSec', 'lr', 'gradNorm', 'seconds', 'skipped']);
      expect(l.valBits).toBeCloseTo(l.valLoss / Math.LN2, 12);
      expect(l.gradNorm).toBeGreaterThan(0);
    }
    expect(lines[0].lr).toBeGreaterThan(lines[3].lr); // cosine decreases
    expect(lines[0].lr).toBeLessThan(0.001 + 1e-12); // PyTorch's default lr for adam
    expect(r.stdout).toMatch(/epoch 1\/4 {2}train ppl [\d.]+ {2}val ppl [\d.]+ {2}val bits [\d.]+ {2}val acc [\d.]+ {2}lr [\d.e-]+ {2}grad norm [\d.]+ {2}tokens\/s \d+/);
    expect(r.stdout).toMatch(/\nval ppl [\d.]+ [▁▂▃▄▅▆▇█]{4} [\d.]+ \(best [\d.]+ at epoch \d\)\n$/);
    const ck = loadTrainingCheckpoint(out);
    expect(ck.meta.config.hidden).toEqual([20, 12]);
    expect(ck.meta.optimizer.kind).toBe('adam');
    expect(Object.keys(ck.optimizerState).sort()).toEqual(['exp_avg', 'exp_avg_sq']);
    expect(ck.meta.schedule?.kind).toBe('cosine');
    const svg = parseSvg(readFileSync(path.join(dir, 'adam.svg'), 'utf8'));
    expect(svg.series).toEqual({ 'gru 20x12 train': 4, 'gru 20x12 val': 4 });
    expect(svg.labels).toEqual(['x:epoch', 'y:perplexity']);
    expect(svg.legend).toEqual(['gru 20x12 train', 'gru 20x12 val']);
    expect(svg.xTicks).toBeGreaterThanOrEqual(2);
    expect(svg.yTicks).toBeGreaterThanOrEqual(2);

    // Stopped after 2 epochs and resumed: the same weights as 4 straight epochs
    // (a schedule that does not depend on the planned number of epochs).
    const run = ['train', ...QUICK, '--optimizer', 'rmsprop', '--momentum', '0.5', '--lr-schedule', 'exp', '--lr-decay', '0.5', '--lr-decay-after', '1', '--warmup', '3'];
    const full = path.join(dir, 'full.safetensors');
    const half = path.join(dir, 'half.safetensors');
    expect((await cli([...run, '--epochs', '4', '--out', full])).code).toBe(0);
    expect((await cli([...run, '--epochs', '2', '--out', half])).code).toBe(0);
    expect((await cli(['train', '--resume', half, '--epochs', '4'])).code).toBe(0);
    expect(loadTrainingCheckpoint(half).meta.history.map((m) => m.lr)).toEqual(loadTrainingCheckpoint(full).meta.history.map((m) => m.lr));
    expect(Buffer.from(loadTrainingCheckpoint(half).model.params.buffer).equals(Buffer.from(loadTrainingCheckpoint(full).model.params.buffer))).toBe(true);

    // A cosine schedule does depend on them: a resume with more epochs says how it bends the rate.
    const r2 = await cli(['train', '--resume', out, '--epochs', '6']);
    expect(r2.code).toBe(0);
    expect(r2.stderr).toMatch(/^deeprnn: warning: --epochs 6 changes the cosine schedule this run planned over 4 epochs: the learning rate falls to 0 at epoch 6 instead of 4, and is [\d.e-]+ at this step instead of 0$/m);
  });

  it('early stopping, clipping by value and SGD with Nesterov momentum', async () => {
    const out = path.join(dir, 'early.safetensors');
    const r = (await cli(['train', ...QUICK, '--epochs', '40', '--lr', '20', '--early-stop', '2', '--clip-mode', 'value', '--clip', '0.5',
      '--momentum', '0.9', '--nesterov', '--out', out, '--json']));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.earlyStop).toBe(true);
    expect(j.epochs).toBeLessThan(40);
    const h = loadTrainingCheckpoint(out).meta.history.map((m) => m.valPpl);
    const best = Math.min(...h);
    expect(Math.min(...h.slice(-2))).toBeGreaterThan(best);
    expect(loadTrainingCheckpoint(out).meta.clipMode).toBe('value');
  });

  it('plot overlays runs and compare trains every cell on the same budget', async () => {
    const svgFile = path.join(dir, 'both.svg');
    const p = (await cli(['plot', path.join(dir, 'adam.metrics.jsonl'), path.join(dir, 'early.metrics.jsonl'), '-o', svgFile, '--json']));
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout).runs.map((r: { label: string }) => r.label)).toEqual(['adam', 'early']);
    expect(Object.keys(parseSvg(readFileSync(svgFile, 'utf8')).series)).toEqual(['adam train', 'adam val', 'early train', 'early val']);

    const outDir = path.join(dir, 'cmp');
    const c = (await cli(['compare', '--cells', 'gru,lstm,rnn', ...QUICK, '--out-dir', outDir, '--json']));
    expect(c.code).toBe(0);
    const j = JSON.parse(c.stdout);
    expect(j.results.map((r: { cell: string }) => r.cell)).toEqual(['gru', 'lstm', 'rnn']);
    for (const r of j.results) {
      expect(Object.keys(r)).toEqual(['cell', 'finalValPpl', 'bestValPpl', 'bestEpoch', 'seconds', 'tokensPerSec', 'parameters', 'checkpoint']);
      expect(existsSync(r.checkpoint)).toBe(true);
    }
    expect(j.results.map((r: { parameters: number }) => r.parameters)).toEqual([3*16*(28+16+2)+3*16*(16+16+2)+28*17, 4*16*(28+16+2)+4*16*(16+16+2)+28*17, 16*(28+16+2)+16*(16+16+2)+28*17]);
    expect(Object.keys(parseSvg(readFileSync(path.join(outDir, 'compare.svg'), 'utf8')).series)).toHaveLength(6);
    const table = (await cli(['compare', '--cells', 'rnn', ...QUICK, '--epochs', '1', '--out-dir', outDir])).stdout;
    expect(table).toMatch(/cell {6}final val ppl {2}best val ppl \(epoch\) {2}wall time {2}tokens\/s {3}parameters\nrnn {7}[\d.]+/);
  });

  it('validates the new options', async () => {
    const bad = async (args: string[], msg: string) => {
      const r = (await cli(['train', ...args, '--out', path.join(dir, 'never.safetensors')]));
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`deeprnn: error: ${msg}`);
    };
    await bad(['--optimizer', 'lbfgs'], '--optimizer must be one of sgd|adam|adamw|rmsprop, got "lbfgs"');
    await bad(['--optimizer', 'adam', '--momentum', '0.9'], '--momentum applies to --optimizer sgd|rmsprop, not adam');
    await bad(['--betas', '0.9,0.99'], '--betas applies to --optimizer adam|adamw, not sgd');
    await bad(['--optimizer', 'adam', '--betas', '0.9'], '--betas must be two numbers in [0, 1), e.g. 0.9,0.999, got "0.9"');
    // the pair, not the number in it that is wrong (before: got "1")
    await bad(['--optimizer', 'adam', '--betas', '1,0.9'], '--betas must be two numbers in [0, 1), e.g. 0.9,0.999, got "1,0.9"');
    await bad(['--optimizer', 'adam', '--betas', '1e-400,0.9'], '--betas must be two numbers in [0, 1), e.g. 0.9,0.999, got "1e-400,0.9": '
      + '"1e-400" is a number that is below the smallest number a double holds (it would read as 0)');
    await bad(['--nesterov'], '--nesterov needs --momentum above 0 (and no dampening)');
    await bad(['--dampening', '2'], '--dampening must be a number in [0, 1], got "2"');
    await bad(['--resume', path.join(dir, 'adam.safetensors'), '--dampening', '0.1'], "--dampening cannot be given with --resume: the run's settings come from the checkpoint");
    await bad(['--lr-schedule', 'linear'], '--lr-schedule must be one of constant|step|exp|cosine, got "linear"');
    await bad(['--lr-decay', '0'], '--lr-decay must be a number in (0, 1], got "0"');
    await bad(['--clip-mode', 'max'], '--clip-mode must be one of norm|value, got "max"');
    await bad(['--early-stop', '0'], '--early-stop must be an integer from 1 to 1000000, got "0"');
    await bad(['--hidden', '32,0'], '--hidden must be an integer from 1 to 1048576, got "0"');
    await bad(['--hidden', '32,16', '--layers', '3'], '--hidden lists 2 sizes but --layers is 3; give one size, or one per layer');
    const p = (await cli(['plot', path.join(dir, 'none.jsonl'), '-o', path.join(dir, 'x.svg')]));
    expect(p.code).toBe(2);
    expect(p.stderr.trim()).toBe(`deeprnn: error: metrics file ${path.join(dir, 'none.jsonl')} does not exist`);
    const c = (await cli(['compare', '--cells', 'gru,tree']));
    expect(c.code).toBe(2);
    expect(c.stderr.trim()).toBe('deeprnn: error: --cells must list cells from rnn,rnn-relu,gru,lstm,mgu, got "tree"');
    // An empty entry is refused, quoting the list (before, "gru,,lstm" ran two cells and "," said got "").
    for (const list of ['gru,,lstm', ',', 'gru,']) {
      const e = await cli(['compare', '--cells', list]);
      expect(e.code).toBe(2);
      expect(e.stderr.trim()).toBe(`deeprnn: error: --cells must list cells from rnn,rnn-relu,gru,lstm,mgu, separated by single commas, got ${JSON.stringify(list)}`);
    }
  });
});
