// Bad input and failures while training: each a one-line error and a non-zero
// exit, with nothing lost.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrainingCheckpoint, saveCheckpoint } from '../../src/io/checkpoint.js';
import { cli, QUICK, run } from '../helpers/cli.js';
import { BIN } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const SMALL = ['--num-train', '500', '--num-val', '100', '--batch-size', '50'];
const sha = (f: string) => createHash('sha1').update(readFileSync(f)).digest('hex');

describe('divergence', () => {
  it('stops on a non-finite loss, naming epoch and batch, and keeps the last good checkpoint', async () => {
    const out = path.join(dir, 'nan.safetensors');
    const r = (await cli(['train', ...SMALL, '--lr', '1e38', '--clip', '0', '--save-every', '1s', '--out', out]));
    expect(r.code).toBe(1);
    const line = r.stderr.trim();
    expect(line).toMatch(
      /^deeprnn: error: the (loss|gradient|weights) became non-finite in epoch 1, batch (\d+); try a lower --lr or gradient clipping, --clip 1 \(or --skip-nonfinite\); the checkpoint .*nan.safetensors \(epoch 0, batch (\d+)\) is from before it$/,
    );
    const badBatch = Number(/in epoch 1, batch (\d+)/.exec(line)![1]);
    const savedBatch = Number(/\(epoch 0, batch (\d+)\)/.exec(line)![1]);
    expect(savedBatch).toBe(badBatch - 1);
    // The checkpoint left behind loads, with finite weights.
    expect(loadTrainingCheckpoint(out).meta.state.batch).toBe(savedBatch);
  });

  it('--skip-nonfinite skips and counts such updates', async () => {
    const out = path.join(dir, 'skip.safetensors');
    // Each update overflows the weights (clipped gradients times lr 1e40): every one is skipped, the model stays sane.
    const r = (await cli(['train', ...SMALL, '--epochs', '2', '--lr', '1e40', '--clip', '1', '--skip-nonfinite', '--out', out, '--json']));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.skippedSteps).toBeGreaterThan(0);
    const ck = loadTrainingCheckpoint(out);
    expect(ck.meta.history.reduce((a, h) => a + h.skipped, 0)).toBe(j.skippedSteps);
    expect(ck.model.params.every(Number.isFinite)).toBe(true);
    expect(ck.meta.history.every((h) => Number.isFinite(h.trainPpl) && Number.isFinite(h.valPpl))).toBe(true);
  });

  it('stops a run whose perplexity overflows (diverged, with finite weights) as a non-finite loss does', async () => {
    for (const extra of [[], ['--skip-nonfinite']]) {
      const out = path.join(dir, `diverged${extra.length}.safetensors`);
      const r = await cli(['train', ...SMALL, '--epochs', '2', '--lr', '1e30', '--clip', '0', ...extra, '--out', out]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toMatch(
        /^deeprnn: error: training diverged in epoch 1: the training perplexity overflows \(mean loss [\d.]+e\+\d+\); try a lower --lr or gradient clipping, --clip 1; no checkpoint of this run was saved before it$/,
      );
      // Nothing holds a non-number: no checkpoint and no metrics line were written for the diverged epoch;
      // a run that saved nothing leaves no metrics file either.
      expect(existsSync(out)).toBe(false);
      expect(existsSync(path.join(dir, `diverged${extra.length}.metrics.jsonl`))).toBe(false);
    }
  });
});

describe('checkpoint writes', () => {
  it('a failed write leaves the previous checkpoint intact and says so in one line', async () => {
    const out = path.join(dir, 'full.safetensors');
    expect((await cli(['train', ...QUICK, '--epochs', '1', '--out', out])).code).toBe(0);
    const before = sha(out);
    // Files over 4 KiB cannot be written (EFBIG): the next checkpoint write fails.
    const best = out.replace(/\.safetensors$/, '.best.safetensors');
    const bestBefore = sha(best);
    // The run continued in place: the epoch's best (when it improves) is written first, then the checkpoint.
    const r = await run('bash', ['-c', `trap '' XFSZ; ulimit -f 8; exec "${process.execPath}" "${BIN}" train --resume "${out}" --epochs 2`]);
    expect(r.code).toBe(1);
    // (the best's failure also names --out's checkpoint, intact, where a resume starts)
    expect(r.stderr.trim()).toMatch(new RegExp(`^deeprnn: error: could not write checkpoint (${out} \\(EFBIG: file too large.*\\); the previous checkpoint there is intact`
      + `|${best} \\(EFBIG: file too large.*\\); the previous checkpoint there is intact; the checkpoint ${out} \\(epoch 1, batch 0\\) is intact)$`));
    expect(sha(out)).toBe(before);
    expect(sha(best)).toBe(bestBefore);
    expect(readFileSync(out).length).toBeGreaterThan(4096);
  });

  it('a first write that fails says that no checkpoint was written there', async () => {
    const out = path.join(dir, 'first.safetensors');
    const r = await run('bash', ['-c', `trap '' XFSZ; ulimit -f 8; exec "${process.execPath}" "${BIN}" train ${QUICK.join(' ')} --epochs 1 --out "${out}"`]);
    expect(r.code).toBe(1);
    // The first epoch's validation is the best so far: its best checkpoint is the first write
    const best = out.replace(/\.safetensors$/, '.best.safetensors');
    expect(r.stderr.trim()).toMatch(new RegExp(`^deeprnn: error: could not write checkpoint ${best} \\(EFBIG: file too large.*\\); no checkpoint was written there$`));
    expect(existsSync(best)).toBe(false);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-') || f.startsWith('first.safetensors.lock'))).toEqual([]);
  });

  it('refuses a checkpoint path that is a device or a directory', async () => {
    for (const target of ['/dev/full', dir]) {
      const r = (await cli(['train', ...QUICK, '--out', target]));
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`deeprnn: error: checkpoint path ${target} exists and is not a regular file`);
    }
  });
});

describe('sizes and corpora', () => {
  it('refuses a model that cannot fit in memory before allocating it', async () => {
    const r = (await cli(['train', '--hidden', '200000', '--out', path.join(dir, 'huge.safetensors')]));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(
      /^deeprnn: error: the model and batch need about [\d.]+ TiB \(parameters [\d.]+ [TG]iB, activations [\d.]+ [TG]iB\) but this machine has [\d.]+ GiB; reduce --hidden, --layers, --batch-size or --num-steps$/,
    );
  });

  it('refuses binary and invalid UTF-8 corpora, naming the byte offset', async () => {
    const bin = path.join(dir, 'bin.dat');
    writeFileSync(bin, Buffer.concat([Buffer.from('some text '), Buffer.from([0, 1, 2])]));
    const r1 = (await cli(['train', '--corpus', bin, '--out', path.join(dir, 'b.safetensors')]));
    expect(r1.code).toBe(2);
    expect(r1.stderr.trim()).toBe(`deeprnn: error: --corpus "${bin}" looks binary (a NUL byte at offset 10); expected a UTF-8 text file`);
    const latin1 = path.join(dir, 'latin1.txt');
    writeFileSync(latin1, Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' au lait')]));
    const r2 = (await cli(['train', '--corpus', latin1, '--out', path.join(dir, 'l.safetensors')]));
    expect(r2.code).toBe(2);
    expect(r2.stderr.trim()).toBe(`deeprnn: error: --corpus "${latin1}" is not valid UTF-8 at byte offset 3`);
    // UTF-16 is named as such (before: "looks binary (a NUL byte at offset 3)").
    for (const [bom, enc, what] of [[[0xff, 0xfe], 'utf16le', 'little-endian: it starts with the byte-order mark FF FE'],
      [[0xfe, 0xff], 'utf16be', 'big-endian: it starts with the byte-order mark FE FF']] as const) {
      const body = Buffer.from('some text in UTF-16', 'utf16le');
      if (enc === 'utf16be') body.swap16();
      const f = path.join(dir, `${enc}.txt`);
      writeFileSync(f, Buffer.concat([Buffer.from(bom), body]));
      const r = await cli(['train', '--corpus', f, '--out', path.join(dir, `${enc}.safetensors`)]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`deeprnn: error: --corpus "${f}" is UTF-16 (${what}); expected UTF-8: convert it, e.g. iconv -f UTF-16 -t UTF-8`);
    }
  });
});

describe('long runs', () => {
  it('a run of 100,000 epochs (the most --epochs takes) resumes, plots and describes', async () => {
    // A real one-epoch checkpoint whose history is stretched to 99,999 epochs.
    const out = path.join(dir, 'long.safetensors');
    expect((await cli(['train', ...SMALL, '--hidden', '8', '--epochs', '1', '--out', out])).code).toBe(0);
    const ck = loadTrainingCheckpoint(out);
    const h = ck.meta.history[0]!;
    // (still improving at its end: a history that already met --early-stop 3 would end the resumed run at once)
    const history = Array.from({ length: 99_999 }, (_, i) => ({ ...h, epoch: i + 1, valPpl: h.valPpl + 1 - i / 99_998 }));
    saveCheckpoint(out, ck.model, { ...ck.meta, history, state: { ...ck.meta.state, epoch: 99_999 } }, undefined, ck.optimizerState);
    // its best, the last of those epochs (a best of another history is kept aside with a warning)
    saveCheckpoint(path.join(dir, 'long.best.safetensors'), ck.model, { ...ck.meta, history, state: { ...ck.meta.state, epoch: 99_999 } }, undefined, ck.optimizerState);
    const r = await cli(['train', '--resume', out, '--epochs', '100000', '--early-stop', '3', '--json']);
    expect(r.stderr).toMatch(/^epoch 100000\/100000 /);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).epochs).toBe(100_000);
    const svg = path.join(dir, 'long-plot.svg');
    const p = await cli(['plot', path.join(dir, 'long.metrics.jsonl'), '-o', svg, '--json']);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout).runs[0].epochs).toBe(100_000);
    const i = await cli(['info', out, '--json']);
    expect(i.code).toBe(0);
    expect(JSON.parse(i.stdout).history.epochs).toBe(100_000);
  }, 120_000);
});

describe('standard output on a full disk', () => {
  it('one line and exit code 1 for info, predict, eval --json and train', async () => {
    const model = path.join(dir, 'nan.safetensors');
    expect(existsSync(model)).toBe(true);
    const text = path.join(dir, 'short.txt');
    writeFileSync(text, 'the time traveller was expounding a recondite matter to us\n'.repeat(20));
    for (const args of [
      ['info', model],
      // (a model whose outputs are finite: nan.safetensors' overflow, and predict says so before it writes a token)
      ['predict', 'it has', '--model', path.join(dir, 'skip.safetensors'), '--num-preds', '1000'],
      ['eval', model, '--corpus', text, '--json'],
      ['train', ...QUICK, '--epochs', '1', '--out', path.join(dir, 'full-stdout.safetensors')],
    ]) {
      const r = await run('bash', ['-c', `"${process.execPath}" "${BIN}" ${args.map((a) => `'${a}'`).join(' ')} > /dev/full`]);
      expect(r.stderr.trim(), args[0]).toBe('deeprnn: error: cannot write to the standard output (ENOSPC: no space left on device, write)');
      expect(r.code, args[0]).toBe(1);
    }
  });

  it('train stops after a batch, saves and releases --out, as after a signal, then exits 1', async () => {
    // Ending the process at the failed write cut a native step short (an abort,
    // exit 134, in about half of the runs of a large model) and left the lock behind.
    const out = path.join(dir, 'full-stdout-long.safetensors');
    const args = ['train', ...QUICK, '--epochs', '200', '--out', out];
    const r = await run('bash', ['-c', `"${process.execPath}" "${BIN}" ${args.map((a) => `'${a}'`).join(' ')} > /dev/full`]);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe('deeprnn: error: cannot write to the standard output (ENOSPC: no space left on device, write)');
    expect(lines.at(-1)).toMatch(new RegExp(`^stopped at epoch \\d+, batch \\d+; checkpoint .*; resume with: deeprnn train --resume `));
    expect(r.code).toBe(1);
    expect(existsSync(`${out}.lock`)).toBe(false);
    const ck = loadTrainingCheckpoint(out);
    expect(ck.meta.state.epoch).toBeLessThan(200);
    expect(ck.meta.history.length).toBe(ck.meta.state.epoch);
  }, 120_000);

  it('a failing standard error: train trains on (its JSON report on stdout), predict prints its text, both exit 1', async () => {
    // (before, the process ended at the first line that could not be written: with --json, the
    // first epoch's progress line, and the run was lost without a checkpoint)
    const out = path.join(dir, 'full-stderr.safetensors');
    const args = ['train', ...QUICK, '--epochs', '30', '--json', '--out', out];
    const r = await run('bash', ['-c', `"${process.execPath}" "${BIN}" ${args.map((a) => `'${a}'`).join(' ')} 2> /dev/full`]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { stopped: boolean; epoch: number; checkpoint: string };
    expect(report.stopped).toBe(false);
    expect(report.epoch).toBe(30);
    expect(report.checkpoint).toBe(out);
    expect(existsSync(`${out}.lock`)).toBe(false);
    expect(loadTrainingCheckpoint(out).meta.state.epoch).toBe(30);
    // a warning that cannot be written (--threads capped): the text is whole, the exit code 1
    const p = await run('bash', ['-c', `"${process.execPath}" "${BIN}" predict --model '${out}' --threads 1024 --num-preds 5 'it has' 2> /dev/full`]);
    expect(p.stdout).toMatch(/^it has.{5}\n$/);
    expect(p.code).toBe(1);
    // a code the command set stays (a usage error's 2; the failed warning comes a turn later)
    const usage = await run('bash', ['-c', `"${process.execPath}" "${BIN}" predict --model '${out}.none' it 2> /dev/full`]);
    expect(usage.code).toBe(2);
    const quiet = await run(process.execPath, [BIN, 'predict', '--model', out, '--threads', '1024', '--num-preds', '5', 'it has']);
    expect(quiet.stderr).toMatch(/^deeprnn: warning: /);
    expect(quiet.stdout).toBe(p.stdout);
  }, 120_000);
});
