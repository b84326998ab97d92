// Options that do not apply are errors rather than ignored, and so are values
// that would be read as another: one line naming the option, exit code 2,
// nothing written. Two names of the same checkpoint are one checkpoint.
import { copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { libraryNaming, resolveRunSettings } from '../../src/train/settings.js';
import { BF16_FIXTURE } from '../helpers/bf16-fixture.js';
import { cli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();

/** A run small enough that, were an option accepted, it would train in seconds. */
const S = ['--epochs', '1', '--num-train', '200', '--num-val', '100', '--batch-size', '32', '--hidden', '8'];

let runs = 0;

/** Runs the command in a fresh directory of its own and expects one error line, exit code 2 and nothing written there. */
async function refused(args: string[], message: string) {
  const cwd = path.join(dir, `run${runs++}`);
  mkdirSync(cwd);
  const out = args[0] === 'train' ? ['--out', 'out/x.safetensors'] : args[0] === 'compare' ? ['--out-dir', 'out'] : [];
  const r = await cli([...args, ...out], { cwd });
  expect(r.stderr).toBe(`deeprnn: error: ${message}\n`);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(readdirSync(cwd)).toEqual([]);
}

describe('dropout with one layer', () => {
  // Dropout acts between layers (not after the last): with one layer a given
  // dropout changed nothing, and the run gave no word of it.
  it('train and compare refuse it; 0 (no dropout) and two layers are fine', async () => {
    const message = '--dropout 0.5 applies between layers (not after the last), and the model has 1 layer: leave --dropout out, or use 2 or more layers';
    await refused(['train', ...S, '--layers', '1', '--dropout', '0.5'], message);
    await refused(['train', ...S, '--hidden', '8', '--dropout', '0.5', '--layers', '1'], message);
    await refused(['compare', ...S, '--cells', 'rnn', '--layers', '1', '--dropout', '0.5'], message);
    const ok = await cli(['train', ...S, '--layers', '1', '--dropout', '0', '--out', path.join(dir, 'one-layer.safetensors')]);
    expect(ok.code, ok.stderr).toBe(0);
    // Fine-tuning a one-layer checkpoint with a dropout is refused the same way.
    await refused(['train', ...S, '--init-from', path.join(dir, 'one-layer.safetensors'), '--dropout', '0.2'],
      '--dropout 0.2 applies between layers (not after the last), and the model has 1 layer: leave --dropout out, or use 2 or more layers');
  });

  it('the library names its own option', () => {
    const o = { corpus: ['timemachine'], layers: 1, dropout: 0.3 };
    expect(() => resolveRunSettings(o, libraryNaming(o), { corpus: ['timemachine'], out: null }))
      .toThrow('dropout 0.3 applies between layers (not after the last), and the model has 1 layer: leave dropout out, or use 2 or more layers');
  });
});

describe('schedule options the schedule does not read', () => {
  it.each([
    [['--lr-decay', '0.5'], '--lr-decay applies to --lr-schedule step|exp, not constant'],
    [['--lr-decay-after', '3'], '--lr-decay-after applies to --lr-schedule step|exp, not constant'],
    [['--min-lr', '0.5'], '--min-lr applies to --lr-schedule step|exp|cosine, not constant'],
    [['--lr-schedule', 'constant', '--min-lr', '0'], '--min-lr applies to --lr-schedule step|exp|cosine, not constant'],
    [['--lr-schedule', 'cosine', '--lr-decay', '0.5'], '--lr-decay applies to --lr-schedule step|exp, not cosine'],
    [['--lr-schedule', 'cosine', '--lr-decay-after', '3'], '--lr-decay-after applies to --lr-schedule step|exp, not cosine'],
  ])('train %j', async (args, message) => refused(['train', ...S, ...args], message));

  it('compare checks them as train does', async () => {
    await refused(['compare', ...S, '--cells', 'rnn', '--lr-decay', '0.5'], '--lr-decay applies to --lr-schedule step|exp, not constant');
  });

  it('refuses --lr-decay-after 0, which step and exp would read as 1', async () => {
    for (const kind of ['step', 'exp']) {
      await refused(['train', ...S, '--lr-schedule', kind, '--lr-decay-after', '0'], '--lr-decay-after must be an integer from 1 to 1000000, got "0"');
    }
  });

  it('accepts each option with a schedule that reads it', async () => {
    const cwd = path.join(dir, 'accepted');
    mkdirSync(cwd);
    const tiny = ['--epochs', '1', '--num-train', '40', '--num-val', '20', '--batch-size', '20', '--hidden', '4', '--layers', '1', '--num-steps', '8'];
    for (const [i, args] of [
      ['--lr-schedule', 'step', '--lr-decay', '0.5', '--lr-decay-after', '1', '--min-lr', '0.1'],
      ['--lr-schedule', 'exp', '--lr-decay', '0.5', '--lr-decay-after', '1', '--min-lr', '0.1'],
      ['--lr-schedule', 'cosine', '--min-lr', '0.1', '--warmup', '1'],
      ['--warmup', '1'],
    ].entries()) {
      const r = await cli(['train', ...tiny, ...args, '--out', `run${i}.safetensors`, '--json'], { cwd });
      expect(r.stderr).not.toContain('error');
      expect(r.code).toBe(0);
    }
  });
});

describe("the library's train() shares the checks, in its naming", () => {
  it.each([
    [{ lrDecay: 0.5 }, 'lrDecay applies to lrSchedule step|exp, not constant'],
    [{ lrSchedule: 'cosine', lrDecayAfter: 3 }, 'lrDecayAfter applies to lrSchedule step|exp, not cosine'],
    [{ minLr: 0.5 }, 'minLr applies to lrSchedule step|exp|cosine, not constant'],
    [{ lrSchedule: 'step', lrDecayAfter: 0 }, 'lrDecayAfter must be an integer from 1 to 1000000, got 0'],
    [{ dampening: 0.5 }, 'dampening needs momentum above 0 (it damps the momentum buffer)'],
  ])('%j', (options, message) => {
    expect(() => resolveRunSettings(options, libraryNaming(options), { corpus: ['(text)'], out: null })).toThrow(message);
  });

  it('leaves the settings of a schedule that reads them', () => {
    const o = { lrSchedule: 'exp', lrDecay: 0.5, lrDecayAfter: 2, minLr: 0.1, momentum: 0.9, dampening: 0.5 };
    const s = resolveRunSettings(o, libraryNaming(o), { corpus: ['(text)'], out: null });
    expect(s.schedule).toEqual({ kind: 'exp', warmup: 0, decay: 0.5, decayAfter: 2, minLr: 0.1 });
    expect(s.optimizer).toEqual({ kind: 'sgd', momentum: 0.9, dampening: 0.5 });
  });
});

describe('optimizer options without what they act on', () => {
  it('refuses --dampening without momentum (PyTorch takes it and never reads it)', async () => {
    await refused(['train', ...S, '--dampening', '0.5'], '--dampening needs --momentum above 0 (it damps the momentum buffer)');
    await refused(['train', ...S, '--momentum', '0', '--dampening', '0.5'], '--dampening needs --momentum above 0 (it damps the momentum buffer)');
  });

  it('refuses --nesterov without momentum (as PyTorch does)', async () => {
    await refused(['train', ...S, '--nesterov'], '--nesterov needs --momentum above 0 (and no dampening)');
  });
});

describe('eval --tolerance', () => {
  it('applies to --baseline only', async () => {
    const model = path.join(dir, 'eval-model.safetensors');
    copyFileSync(BF16_FIXTURE, model);
    await refused(['eval', model, '--corpus', 'timemachine', '--tolerance', '0.1', '--write-baseline', 'b.json'],
      "--tolerance applies to --baseline (how far a corpus's perplexity may exceed the baseline's)");
  });
});

describe('--min-freq that leaves no token', () => {
  it('names the option and the most frequent count instead of the model\'s vocabulary size', async () => {
    const corpus = path.join(dir, 'words.txt');
    writeFileSync(corpus, 'the cat and the dog and the bird\n'.repeat(20));
    // " " is the most frequent token: 7 a line.
    await refused(['train', '--corpus', corpus, '--tokenizer', 'word', '--min-freq', '1000000', '--num-train', '10', '--num-val', '5', '--batch-size', '4', '--hidden', '8', '--num-steps', '4'],
      '--min-freq 1000000 leaves no token but <unk> in the vocabulary (every token of the corpus is seen fewer times; the most frequent is seen 140 times)');
  });
});

describe('compare --cells', () => {
  it('refuses a cell named twice', async () => {
    await refused(['compare', ...S, '--cells', 'gru,lstm,gru'], '--cells names gru twice: each cell trains once, into --out-dir as gru.safetensors');
    await refused(['compare', ...S, '--cells', 'rnn, rnn'], '--cells names rnn twice: each cell trains once, into --out-dir as rnn.safetensors');
  });
});

describe('the checkpoint as the argument and as --model', () => {
  const cwd = path.join(dir, 'ckpt');
  mkdirSync(path.join(cwd, 'base'), { recursive: true });
  copyFileSync(BF16_FIXTURE, path.join(cwd, 'base', 'gru.safetensors'));
  copyFileSync(BF16_FIXTURE, path.join(cwd, 'base', 'copy.safetensors'));
  symlinkSync('gru.safetensors', path.join(cwd, 'base', 'link.safetensors'));

  it('accepts two names of the same file', async () => {
    const once = await cli(['info', '--model', 'base/gru.safetensors', '--json'], { cwd });
    expect(once.code).toBe(0);
    for (const same of ['./base/../base/gru.safetensors', path.join(cwd, 'base', 'gru.safetensors'), 'base/link.safetensors']) {
      const r = await cli(['info', 'base/gru.safetensors', '--model', same, '--json'], { cwd });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(once.stdout);
    }
  });

  it('refuses two different files, even with the same content', async () => {
    const r = await cli(['info', 'base/gru.safetensors', '--model', 'base/copy.safetensors'], { cwd });
    expect(r.stderr).toBe('deeprnn: error: two checkpoints are named, the argument base/gru.safetensors and --model base/copy.safetensors, where the command reads one: give one, with --model\n');
    expect(r.code).toBe(2);
    expect(existsSync(path.join(cwd, 'checkpoints'))).toBe(false);
  });
});
