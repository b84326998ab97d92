// What the terminal shows besides training: --help (one correct default per
// option, numbers unquoted, no option a command ignores, internal options
// hidden, required options marked), commander's own errors in deeprnn's
// one-line form, and the one way predict, eval and info take a checkpoint.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { HYPER_KEYS, HYPERPARAMS, optimizerSpec, optimizersWith, showHyper } from '../../src/train/optim.js';
import { RUN_DEFAULTS } from '../../src/train/settings.js';
import { flagName } from '../../src/validate.js';
import { cli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();

/** The options of a command's --help, each with its whole description (wrapped lines joined). */
async function helpOptions(command: string): Promise<Map<string, string>> {
  const r = await cli([command, '--help']);
  expect(r.code).toBe(0);
  const options = new Map<string, string>();
  let last: string | null = null;
  let inOptions = false;
  for (const line of r.stdout.split('\n')) {
    if (line === 'Options:') {
      inOptions = true;
      continue;
    }
    if (!inOptions || line.trim() === '') continue;
    const m = /^ {2}(-\w, )?(--[\w-]+)( <[^>]+>)?\s+(.*)$/.exec(line);
    if (m) {
      last = m[2]!;
      options.set(last, m[4]!);
    } else if (last) {
      options.set(last, `${options.get(last)!} ${line.trim()}`);
    }
  }
  return options;
}

const COMMANDS = ['train', 'predict', 'eval', 'info', 'compare', 'plot', 'bench'];

describe('--help', () => {
  const help = new Map<string, Map<string, string>>();
  beforeAll(async () => {
    for (const c of COMMANDS) help.set(c, await helpOptions(c));
  });

  it('shows at most one default per option, numbers unquoted', () => {
    for (const [command, options] of help) {
      for (const [flag, text] of options) {
        expect((text.match(/default/g) ?? []).length, `${command} ${flag}: ${text}`).toBeLessThanOrEqual(1);
        expect(text, `${command} ${flag}`).not.toMatch(/\(default: "-?[\d.]+"\)/);
      }
    }
  });

  it("train's defaults are the ones a run uses (RUN_DEFAULTS), and --lr names each optimizer's", () => {
    const train = help.get('train')!;
    const flag = (key: string) => '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    for (const [key, value] of Object.entries(RUN_DEFAULTS)) {
      const shown = typeof value === 'string' ? `"${value}"` : String(value);
      expect(train.get(flag(key)), key).toContain(`(default: ${shown})`);
    }
    expect(train.get('--lr')).toBe("learning rate (default: 2 for sgd, 0.001 for adam, 0.001 for adamw, 0.01 for rmsprop: the book's for sgd, PyTorch's for the others)");
    expect(train.get('--corpus')).toContain('(default: timemachine)');
  });

  it("train's optimizer options are the specs': which optimizers have each, and each one's default", () => {
    const train = help.get('train')!;
    expect(train.get('--momentum')).toBe('sgd, rmsprop: momentum (default: 0)');
    expect(train.get('--dampening')).toBe('sgd: dampening of the momentum (default: 0)');
    expect(train.get('--nesterov')).toBe('sgd: Nesterov momentum');
    expect(train.get('--betas')).toBe('adam, adamw: betas (default: 0.9,0.999)');
    expect(train.get('--eps')).toBe('adam, adamw, rmsprop: epsilon (default: 1e-8)');
    expect(train.get('--weight-decay')).toBe('L2 penalty, decoupled for adamw (default: 0 for sgd, adam, rmsprop; 0.01 for adamw)');
    expect(train.get('--alpha')).toBe('rmsprop: smoothing constant (default: 0.99)');
    for (const key of HYPER_KEYS) {
      const text = train.get(flagName(key));
      expect(text, key).toBeDefined();
      for (const kind of optimizersWith(key)) {
        expect(text, `${key} ${kind}`).toContain(kind);
        if (HYPERPARAMS[key].type !== 'flag') expect(text, `${key} ${kind}`).toContain(showHyper(optimizerSpec(kind).hyper[key]));
      }
      expect(help.get('compare')!.get(flagName(key)), key).toBe(text);
    }
  });

  it('--format lists the formats of each command, CSV where its output is tabular', () => {
    for (const c of ['train', 'predict', 'plot']) expect(help.get(c)!.get('--format'), c).toBe('text|json: text for the terminal or one JSON object (default: "text")');
    expect(help.get('eval')!.get('--format')).toBe('text|json|csv: text for the terminal, one JSON object, or CSV with one row per corpus (default: "text")');
    for (const c of ['compare', 'info', 'bench']) expect(help.get(c)!.get('--format'), c).toMatch(/^text\|json\|csv: .*, or CSV with one row per /);
    for (const c of COMMANDS) expect(help.get(c)!.get('--json'), c).toBe('the same as --format json: stdout carries one JSON object and nothing else');
  });

  it('lists no option a command ignores, hides internal ones and marks required ones', () => {
    expect(help.get('compare')!.has('--out')).toBe(false);
    expect(help.get('compare')!.has('--out-dir')).toBe(true);
    expect(help.get('compare')!.has('--resume')).toBe(false);
    expect(help.get('bench')!.has('--one')).toBe(false);
    expect(help.get('eval')!.get('--corpus')).toMatch(/\(required\)$/);
    expect(help.get('plot')!.get('--out')).toBe('SVG file to write (required)');
    for (const c of ['predict', 'eval', 'info']) expect(help.get(c)!.get('--model')).toBe('checkpoint to read (default: "checkpoints/deeprnn.safetensors")');
  });

  it('compare writes each run under --out-dir, never to an --out', async () => {
    const r = await cli(['compare', '--cells', 'rnn', '--out', path.join(dir, 'x.safetensors')]);
    expect(r.stderr.trim()).toBe("deeprnn: error: unknown option '--out'");
    expect(r.code).toBe(2);
  });
});

describe("commander's errors", () => {
  it.each([
    [['train', '--layer', '2'], "deeprnn: error: unknown option '--layer' (did you mean --layers?)"],
    [['predict'], "deeprnn: error: missing required argument 'prefix'"],
    [['eval', '--model', 'x.safetensors'], "deeprnn: error: required option '--corpus <name|file|dir...>' not specified"],
    [['fly'], "deeprnn: error: unknown command 'fly'"],
    [['help', 'fly'], "deeprnn: error: unknown command 'fly' (the commands: train, predict, eval, compare, plot, info, export, serve, bench)"],
    [['info', 'a', 'b'], "deeprnn: error: too many arguments for 'info'. Expected 1 argument but got 2."],
    [['predict', 'x', '--model'], "deeprnn: error: option '--model <path>' argument missing"],
  ])('%j', async (args, message) => {
    const r = await cli(args);
    expect(r.stderr).toBe(`${message}\n`);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(2);
  });
});

describe('predict, eval and info take the checkpoint as --model', () => {
  const model = path.join(dir, 'm.safetensors');
  beforeAll(async () => {
    expect((await cli(['train', '--hidden', '8', '--num-train', '200', '--num-val', '100', '--batch-size', '50', '--epochs', '1', '--out', model])).code).toBe(0);
  });

  it('each reads --model, and eval and info still take it as their argument', async () => {
    expect((await cli(['predict', 'it', '--model', model])).code).toBe(0);
    const viaModel = await cli(['eval', '--model', model, '--corpus', 'timemachine', '--json']);
    const viaArgument = await cli(['eval', model, '--corpus', 'timemachine', '--json']);
    expect(viaModel.code).toBe(0);
    expect(viaModel.stdout).toBe(viaArgument.stdout);
    const info = await cli(['info', '--model', model, '--json']);
    expect(info.code).toBe(0);
    expect(info.stdout).toBe((await cli(['info', model, '--json'])).stdout);
    expect(JSON.parse(info.stdout).cell).toBe('gru');
  });

  it('reads the default checkpoint', async () => {
    const missing = 'checkpoints/deeprnn.safetensors';
    const cwd = tmpDir();
    for (const args of [['info'], ['eval', '--corpus', 'timemachine'], ['predict', 'it']]) {
      const r = await cli(args, { cwd });
      expect(r.stderr).toBe(`deeprnn: error: checkpoint ${missing} does not exist (train one with "deeprnn train --out ${missing}")\n`);
      expect(r.code).toBe(2);
    }
  });

  it('refuses two different checkpoints', async () => {
    const r = await cli(['info', model, '--model', 'other.safetensors']);
    expect(r.stderr).toBe(`deeprnn: error: two checkpoints are named, the argument ${model} and --model other.safetensors, where the command reads one: give one, with --model\n`);
    expect(r.code).toBe(2);
  });
});
