// deeprnn export CKPT --onnx FILE as a user runs it: the files it writes,
// what ONNX Runtime (onnxruntime-node) makes of them (the text of `deeprnn
// predict`, greedy and sampled, from the written .onnx and .json alone), and
// every message it prints.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { cardTokenizer, checkCard, generateOnnx, OnnxStepper } from '../../src/web/onnx-lm.js';
import { cli, QUICK } from '../helpers/cli.js';
import { cliAsUser } from '../helpers/sandbox.js';
import { notCamelCase } from '../helpers/keys.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const gru = path.join(dir, 'gru.safetensors');
const mgu = path.join(dir, 'mgu.safetensors');

const line = async (args: string[]) => {
  const r = await cli(args);
  return { code: r.code, out: r.stdout, err: r.stderr.trim() };
};

beforeAll(async () => {
  const runs = await Promise.all([
    cli(['train', ...QUICK, '--cell', 'gru', '--layers', '2', '--hidden', '16,8', '--out', gru]),
    cli(['train', ...QUICK, '--epochs', '1', '--cell', 'mgu', '--out', mgu]),
  ]);
  for (const r of runs) expect(r.code, r.stderr).toBe(0);
});

describe('deeprnn export', () => {
  it('writes NAME.onnx and NAME.json; ONNX Runtime generates deeprnn predict\'s text from them', async () => {
    const onnx = path.join(dir, 'out', 'model.onnx');
    const r = await line(['export', gru, '--onnx', onnx]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const bytes = readFileSync(onnx);
    const card = path.join(dir, 'out', 'model.json');
    expect(r.out).toBe(`wrote ${onnx} (${bytes.length.toLocaleString('en-US')} bytes; gru, 2 layers of 16, 8; ONNX opset 17) and ${card} (vocabulary of 28)\n`);
    const c = checkCard(JSON.parse(readFileSync(card, 'utf8')));
    expect(c.config).toEqual({ cell: 'gru', vocabSize: 28, hidden: [16, 8] });
    expect(c.tokenizer.kind).toBe('d2l');

    const session = await ort.InferenceSession.create(bytes);
    const stepper = new OnnxStepper(session, (t, d, dims) => new ort.Tensor(t, d, dims), c);
    for (const [prefix, opts, flags] of [
      ['time traveller', {}, []],
      ['', {}, []],
      ['the time', { temperature: 0.9, topK: 6, seed: 5 }, ['--temperature', '0.9', '--top-k', '6', '--seed', '5']],
    ] as const) {
      const predicted = await cli(['predict', prefix, '--model', gru, '--num-preds', '150', ...flags]);
      expect(predicted.code).toBe(0);
      const text = await generateOnnx(stepper, cardTokenizer(c), prefix, { numPreds: 150, ...opts });
      expect(text + '\n', `prefix ${JSON.stringify(prefix)} ${flags.join(' ')}`).toBe(predicted.stdout);
    }
  });

  it('a checkpoint trained with --precision bf16 exports the weights its products read (rounded to bf16): ONNX Runtime samples predict\'s text', async () => {
    // Before, the export kept the float32 weights while predict read them rounded, and sampled texts parted.
    const bf16 = path.join(dir, 'bf16.safetensors');
    const trained = await cli(['train', ...QUICK, '--cell', 'lstm', '--hidden', '24', '--precision', 'bf16', '--out', bf16]);
    expect(trained.code, trained.stderr).toBe(0);
    const onnx = path.join(dir, 'bf16.onnx');
    expect((await line(['export', bf16, '--onnx', onnx])).code).toBe(0);
    const c = checkCard(JSON.parse(readFileSync(path.join(dir, 'bf16.json'), 'utf8')));
    const session = await ort.InferenceSession.create(readFileSync(onnx));
    const stepper = new OnnxStepper(session, (t, d, dims) => new ort.Tensor(t, d, dims), c);
    for (const seed of [1, 2, 3]) {
      const predicted = await cli(['predict', 'the time', '--model', bf16, '--num-preds', '100', '--temperature', '1', '--seed', String(seed)]);
      expect(predicted.code).toBe(0);
      const text = await generateOnnx(stepper, cardTokenizer(c), 'the time', { numPreds: 100, temperature: 1, seed });
      expect(text + '\n', `seed ${seed}`).toBe(predicted.stdout);
    }
  });

  it('takes the checkpoint as --model too, and prints one JSON object with --json (--format json)', async () => {
    const onnx = path.join(dir, 'm2.onnx');
    const r = await line(['export', '--model', gru, '--onnx', onnx, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      onnx, card: path.join(dir, 'm2.json'), bytes: readFileSync(onnx).length, cell: 'gru', hidden: [16, 8], vocabSize: 28, opset: 17,
    });
    expect(notCamelCase(JSON.parse(r.out))).toEqual([]);
    expect((await line(['export', gru, '--onnx', onnx, '--format', 'json'])).out).toBe(r.out);
    expect((await line(['export', gru, '--onnx', onnx, '--json', '--format', 'text'])).err)
      .toBe('deeprnn: error: --json is --format json: give --json or --format text, not both');
  });

  it('--onnx a link to another .onnx: the graph goes where it leads and the card beside that, not beside the link (before, a stale pair)', async () => {
    const sub = path.join(dir, 'linked');
    mkdirSync(path.join(sub, 'real'), { recursive: true });
    const real = path.join(sub, 'real', 'old.onnx');
    // an earlier export's graph (a file of another kind there is refused: below)
    expect((await line(['export', gru, '--onnx', real])).code).toBe(0);
    rmSync(path.join(sub, 'real', 'old.json'));
    symlinkSync(real, path.join(sub, 'sym.onnx'));
    const r = await line(['export', gru, '--onnx', path.join(sub, 'sym.onnx'), '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).card).toBe(path.join(sub, 'real', 'old.json'));
    expect(readFileSync(real).length).toBe(JSON.parse(r.out).bytes);
    expect(checkCard(JSON.parse(readFileSync(path.join(sub, 'real', 'old.json'), 'utf8'))).config.cell).toBe('gru');
    expect(existsSync(path.join(sub, 'sym.json'))).toBe(false);
    // A link to a file of another name (there or not yet): refused, nothing written (before, the graph went into
    // notes.txt and its card beside the link).
    for (const target of ['notes.txt', 'real/graph.bin']) {
      const link = path.join(sub, `to-${path.basename(target)}.onnx`);
      symlinkSync(target, link);
      expect(await line(['export', gru, '--onnx', link])).toEqual({
        code: 2, out: '', err: `deeprnn: error: --onnx ${link} is a link to ${path.join(sub, target)}, which is not an .onnx file: `
          + 'the graph would be written there and its card beside the link; choose another --onnx',
      });
      expect(existsSync(path.join(sub, target))).toBe(false);
      expect(existsSync(link.replace(/\.onnx$/, '.json'))).toBe(false);
    }
  });

  it('a checkpoint this user may not read is named (before, Node\'s bare "EACCES: permission denied, open ...")', async () => {
    const locked = path.join(dir, 'locked.safetensors');
    writeFileSync(locked, readFileSync(gru));
    chmodSync(dir, 0o755);
    chmodSync(locked, 0o000);
    const denied = `deeprnn: error: checkpoint ${locked} cannot be read (EACCES: permission denied, open '${locked}')\n`;
    const p = await cliAsUser(['predict', 'it', '--model', locked]);
    expect({ code: p.code, err: p.stderr }).toEqual({ code: 2, err: denied });
    const x = await cliAsUser(['export', locked, '--onnx', path.join(os.tmpdir(), `deeprnn-locked-${process.pid}.onnx`)]);
    expect({ code: x.code, err: x.stderr }).toEqual({ code: 2, err: denied });
  });

  it('messages: the minimal gated unit, --onnx missing or not .onnx, a missing checkpoint, an output over the checkpoint', async () => {
    const onnx = path.join(dir, 'mgu.onnx');
    expect(await line(['export', mgu, '--onnx', onnx])).toEqual({
      code: 2, out: '',
      err: "deeprnn: error: the minimal gated unit (mgu) cannot be exported to ONNX: ONNX's recurrent operators are RNN, GRU and LSTM, "
        + 'and none computes it; cells that export: rnn, rnn-relu, gru, lstm',
    });
    expect(existsSync(onnx)).toBe(false);
    expect(existsSync(path.join(dir, 'mgu.json'))).toBe(false);
    expect((await line(['export', gru])).err).toBe("deeprnn: error: required option '--onnx <file.onnx>' not specified");
    expect((await line(['export', gru, '--onnx', path.join(dir, 'model.bin')])).err)
      .toBe(`deeprnn: error: --onnx must name an .onnx file, got "${path.join(dir, 'model.bin')}"`);
    const none = path.join(dir, 'none.safetensors');
    expect(await line(['export', none, '--onnx', path.join(dir, 'none.onnx')])).toEqual({
      code: 2, out: '', err: `deeprnn: error: checkpoint ${none} does not exist (train one with "deeprnn train --out ${none}")`,
    });
    // A checkpoint named like the card the export would write beside its .onnx.
    const odd = path.join(dir, 'odd.json');
    writeFileSync(odd, readFileSync(gru));
    expect((await line(['export', odd, '--onnx', path.join(dir, 'odd.onnx')])).err)
      .toBe(`deeprnn: error: the card ${odd} would overwrite the checkpoint ${odd}, which this command reads; choose another path`);
    // The card a symlink to --onnx (or the other way round): before, the card was written over the model and the export said it wrote both.
    for (const [link, target] of [['loop.json', 'loop.onnx'], ['back.onnx', 'back.json']]) {
      symlinkSync(path.join(dir, target!), path.join(dir, link!));
      const onnx = path.join(dir, link!.endsWith('.onnx') ? link! : target!);
      expect(await line(['export', gru, '--onnx', onnx])).toEqual({
        code: 2, out: '', err: `deeprnn: error: --onnx ${onnx} and its card ${onnx.slice(0, -5)}.json are the same file (a symlink): choose another --onnx`,
      });
      expect(existsSync(path.join(dir, target!))).toBe(false);
    }
    // A NAME.json that is no card (an eval baseline here) is not replaced; an earlier export's card is.
    const named = path.join(dir, 'base.onnx');
    const baseline = path.join(dir, 'base.json');
    writeFileSync(baseline, '{"version":1,"corpora":{}}\n');
    expect(await line(['export', gru, '--onnx', named])).toEqual({
      code: 2, out: '', err: `deeprnn: error: --onnx ${named} would replace ${baseline}, which is not a card an earlier export wrote `
        + '(no "format": "deeprnn-onnx"): move it away, or choose another --onnx',
    });
    expect(readFileSync(baseline, 'utf8')).toBe('{"version":1,"corpora":{}}\n');
    expect(existsSync(named)).toBe(false);
    const again = path.join(dir, 'again.onnx');
    expect((await line(['export', gru, '--onnx', again])).code).toBe(0);
    expect((await line(['export', gru, '--onnx', again])).code).toBe(0);
    // An .onnx that no export wrote (a user's notes, another program's model) is not replaced either (before, it was, without a word);
    // an empty one holds nothing
    for (const [name, bytes] of [['notes.onnx', 'hand-written notes\n'], ['other.onnx', '\x08\x07\x12\x07pytorch\x1a\x032.1']] as const) {
      const foreign = path.join(dir, name);
      writeFileSync(foreign, bytes, 'latin1');
      expect(await line(['export', gru, '--onnx', foreign])).toEqual({
        code: 2, out: '', err: `deeprnn: error: --onnx ${foreign} would replace a file that is not a model an earlier export wrote `
          + '(its producer is not deeprnn): move it away, or choose another --onnx',
      });
      expect(readFileSync(foreign, 'latin1')).toBe(bytes);
      expect(existsSync(foreign.replace(/onnx$/, 'json'))).toBe(false);
    }
    const empty = path.join(dir, 'empty.onnx');
    writeFileSync(empty, '');
    expect((await line(['export', gru, '--onnx', empty])).code).toBe(0);
    expect(readFileSync(empty).subarray(0, 12).includes(Buffer.from('deeprnn'))).toBe(true);
  });
});
