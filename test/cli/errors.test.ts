// Every user-facing error of the CLI: one line naming what was wrong and what
// was expected, exit code 2, no stack trace, nothing written.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
// runs of their own (dir itself stands for a directory with no text)
const work = tmpDir();

async function expectUsage(args: string[], message: string) {
  const out = path.join(dir, 'never.safetensors');
  const r = (await cli([...args, ...(args[0] === 'train' ? ['--out', out] : [])]));
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toBe(`deeprnn: error: ${message}`);
  expect(existsSync(out)).toBe(false);
}

describe('train option errors', () => {
  it.each([
    [['--cell', 'tree'], '--cell must be one of rnn|rnn-relu|gru|lstm|mgu, got "tree"'],
    [['--layers', '0'], '--layers must be an integer from 1 to 64, got "0"'],
    [['--layers', '2.5'], '--layers must be an integer from 1 to 64, got "2.5"'],
    [['--hidden', 'abc'], '--hidden must be an integer from 1 to 1048576, got "abc"'],
    [['--dropout', '1'], '--dropout must be a number in [0, 1), got "1"'],
    [['--epochs', '-3'], '--epochs must be an integer from 1 to 100000, got "-3"'],
    [['--epochs', '100001'], '--epochs must be an integer from 1 to 100000, got "100001"'],
    [['--optimizer', 'adam', '--min-lr', '0.01'], '--min-lr must be a number from 0 to the learning rate (--lr 0.001), got "0.01"'],
    [['--lr', '0.1', '--lr-schedule', 'exp', '--min-lr', '5'], '--min-lr must be a number from 0 to the learning rate (--lr 0.1), got "5"'],
    [['--batch-size', '0'], '--batch-size must be an integer from 1 to 10000000, got "0"'],
    [['--num-steps', 'x'], '--num-steps must be an integer from 1 to 1000000, got "x"'],
    [['--num-train', '0'], '--num-train must be an integer from 1 to 1000000000, got "0"'],
    [['--num-val', ''], '--num-val must be an integer from 1 to 1000000000, got ""'],
    [['--lr', '0'], '--lr must be a positive number, got "0"'],
    [['--lr', 'NaN'], '--lr must be a positive number, got "NaN"'],
    [['--clip', '-1'], '--clip must be a number >= 0 (0 turns clipping off), got "-1"'],
    // below a double's smallest (before: --clip 1e-400 read as 0, clipping off without a word)
    [['--clip', '1e-400'], '--clip must be a number >= 0 (0 turns clipping off), got "1e-400", which is below the smallest number a double holds (it would read as 0)'],
    [['--lr', '1e-400'], '--lr must be a positive number, got "1e-400", which is below the smallest number a double holds (it would read as 0)'],
    [['--seed', '1e3'], '--seed must be an integer from 0 to 4294967295, got "1e3"'],
    [['--threads', '0'], '--threads must be an integer from 1 to 1024, got "0"'],
    [['--impl', 'gpu'], '--impl must be one of native|scratch, got "gpu"'],
  ])('%j', async (args, message) => expectUsage(['train', ...args], message));

  it('refuses an empty --out', async () => {
    const r = (await cli(['train', '--out', '']));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('deeprnn: error: --out must be a file path, got ""');
  });

  it('refuses an empty --resume, leaving the checkpoint it would have overwritten (before, a fresh run replaced it)', async () => {
    const cwd = path.join(work, 'resume-empty');
    mkdirSync(path.join(cwd, 'checkpoints'), { recursive: true });
    const ck = path.join(cwd, 'checkpoints', 'deeprnn.safetensors');
    writeFileSync(ck, 'the run to resume');
    const r = await cli(['train', '--resume', '', '--epochs', '1'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('deeprnn: error: --resume must be a checkpoint path, got ""\n');
    expect(readFileSync(ck, 'utf8')).toBe('the run to resume');
    expect(readdirSync(path.join(cwd, 'checkpoints'))).toEqual(['deeprnn.safetensors']);
  });

  it("refuses an option's value that is another of its options (before, --out --json wrote files named --json)", async () => {
    const cwd = path.join(work, 'swallowed');
    mkdirSync(cwd);
    const r = await cli(['train', '--epochs', '1', '--out', '--json'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('deeprnn: error: --out needs a value, and the next word is the option --json: give --out its value before --json\n');
    expect(readdirSync(cwd)).toEqual([]);
    const p = await cli(['predict', '--model', '--json', 'it has'], { cwd });
    expect(p.code).toBe(2);
    expect(p.stderr).toBe('deeprnn: error: --model needs a value, and the next word is the option --json: give --model its value before --json\n');
    // written with its option, the value is meant (a file called --json)
    const meant = await cli(['train', '--epochs', '1', '--num-train', '200', '--num-val', '100', '--batch-size', '50', '--hidden', '8', '--out=--json'], { cwd });
    expect(meant.code, meant.stderr).toBe(0);
    expect(existsSync(path.join(cwd, '--json'))).toBe(true);
    rmSync(cwd, { recursive: true });
    mkdirSync(cwd);
    const c = await cli(['compare', '--out-dir', '-h'], { cwd });
    expect(c.code).toBe(2);
    expect(c.stderr).toBe('deeprnn: error: --out-dir needs a value, and the next word is the option -h: give --out-dir its value before -h\n');
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('refuses unknown corpora and files', async () => {
    (await expectUsage(['train', '--corpus', 'nosuchbook'], '--corpus "nosuchbook" is neither a known corpus (timemachine, tinyshakespeare) nor an existing file or directory'));
    (await expectUsage(['train', '--corpus', dir], `--corpus "${dir}" is a directory with no non-empty .txt files`));
  });

  it('refuses conflicting split and tokenizer options', async () => {
    (await expectUsage(['train', '--val-frac', '0.1', '--num-train', '100'], '--val-frac splits by fraction: give it or --num-train / --num-val, not both'));
    (await expectUsage(['train', '--val-frac', '1'], '--val-frac must be a number in (0, 1), got "1"'));
    (await expectUsage(['train', '--tokenizer', 'bpe'], '--tokenizer must be one of d2l|char|word, got "bpe"'));
    (await expectUsage(['train', '--tokenizer', 'char', '--min-freq', '3'], '--min-freq applies to the word tokenizer only, got 3 with char'));
    (await expectUsage(['train', '--batching', 'stateful'], '--batching must be one of random|sequential, got "stateful"'));
    // (before, taken and never read: --clip 0 is no clipping)
    (await expectUsage(['train', '--clip', '0', '--clip-mode', 'value'], '--clip-mode applies when clipping is on (--clip above 0), got --clip 0'));
  });

  it('refuses data too small for the windows before training', async () => {
    const small = path.join(dir, 'small.txt');
    writeFileSync(small, 'just a few words here');
    (await expectUsage(['train', '--corpus', small, '--num-steps', '32'], 'the corpus has 21 tokens, fewer than --num-steps + 1 = 33'));
    // Under the book's tokenizer a text without the letters A-Z is one space: the message says why.
    const russian = path.join(dir, 'russian.txt');
    writeFileSync(russian, 'Машина времени, роман. '.repeat(50));
    (await expectUsage(['train', '--corpus', russian, '--tokenizer', 'd2l'], 'the corpus has 1 token, fewer than --num-steps + 1 = 33 '
      + '(the 2,050 bytes of text hold few letters A-Z, which are all the d2l tokenizer keeps; every run of anything else is one space: '
      + '--tokenizer char reads every character)'));
    // So under a checkpoint's d2l tokenizer (--init-from), which --tokenizer cannot change (before: the bare first sentence).
    const base = path.join(dir, 'd2l-base.safetensors');
    expect((await cli(['train', '--epochs', '1', '--hidden', '4', '--num-train', '64', '--num-val', '32', '--batch-size', '32', '--out', base])).code).toBe(0);
    (await expectUsage(['train', '--init-from', base, '--corpus', russian, '--out', path.join(dir, 'ru.safetensors')],
      'the corpus has 1 token, fewer than --num-steps + 1 = 33 (the 2,050 bytes of text hold few letters A-Z, which are all the d2l tokenizer '
      + "of the checkpoint's model keeps; every run of anything else is one space: fine-tune a model trained with --tokenizer char, which reads every character)"));
    (await expectUsage(['train', '--num-train', '170000'], 'the corpus gives 173396 windows of 33 tokens, fewer than --num-train + --num-val = 175000'));
    (await expectUsage(['train', '--num-train', '100', '--batch-size', '101'], 'batch size 101 is larger than the 100 training windows'));
  });

  it('refuses a corpus whose sha1 differs', async () => {
    const d = path.join(dir, 'data');
    const file = path.join(d, 'tinyshakespeare.txt');
    mkdirSync(d);
    writeFileSync(file, 'tampered');
    const r = (await cli(['train', '--corpus', 'tinyshakespeare', '--data-dir', d, '--out', path.join(dir, 'x.safetensors')]));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(new RegExp(`^deeprnn: error: ${file} has sha1 [0-9a-f]{40}, expected 04486597058d11dcc2c556b1d0433891eb639d2e; delete or replace the file$`));
  });

  it('refuses unknown options and commands with exit code 2', async () => {
    const r = (await cli(['train', '--layer', '2']));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--layer'");
    expect((await cli(['fly'])).code).toBe(2);
  });
});

describe('predict errors', () => {
  it('refuses a missing or invalid checkpoint in one line', async () => {
    const missing = path.join(dir, 'none.safetensors');
    (await expectUsage(['predict', 'it has', '--model', missing], `checkpoint ${missing} does not exist (train one with "deeprnn train --out ${missing}")`));
    const junk = path.join(dir, 'junk.safetensors');
    writeFileSync(junk, 'junk');
    (await expectUsage(['predict', 'it has', '--model', junk], `${junk} is not a valid safetensors file: it has 4 bytes, fewer than the 8-byte header length`));
  });

  it('validates --num-preds', async () => {
    (await expectUsage(['predict', 'it', '--num-preds', '-1'], '--num-preds must be an integer from 0 to 10000000, got "-1"'));
  });
});

describe('version', () => {
  it('says which kernels run', async () => {
    const r = (await cli(['--version']));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^deeprnn \d+\.\d+\.\d+ \(simd (scalar|avx2|avx512); available scalar/);
  });
});
