// Bad input and failures while training: each a one-line error and a non-zero
// exit, with nothing lost.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
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
      /^deeprnn: error: the (loss|gradient|weights) became non-finite in epoch 1, batch (\d+); try a lower --lr or a smaller --clip \(or --skip-nonfinite\); the checkpoint .*nan.safetensors \(epoch 0, batch (\d+)\) is from before it$/,
    );
    const badBatch = Number(/in epoch 1, batch (\d+)/.exec(line)![1]);
    const savedBatch = Number(/\(epoch 0, batch (\d+)\)/.exec(line)![1]);
    expect(savedBatch).toBe(badBatch - 1);
    // The checkpoint left behind loads, with finite weights.
    expect(loadCheckpoint(out).meta.state.batch).toBe(savedBatch);
  });

  it('--skip-nonfinite skips and counts such updates', async () => {
    const out = path.join(dir, 'skip.safetensors');
    const r = (await cli(['train', ...SMALL, '--epochs', '2', '--lr', '1e38', '--clip', '0', '--skip-nonfinite', '--out', out, '--json']));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.skipped_steps).toBeGreaterThan(0);
    const ck = loadCheckpoint(out);
    expect(ck.meta.history.reduce((a, h) => a + h.skipped, 0)).toBe(j.skipped_steps);
    expect(ck.model.params.every(Number.isFinite)).toBe(true);
  });
});

describe('checkpoint writes', () => {
  it('a failed write leaves the previous checkpoint intact and says so in one line', async () => {
    const out = path.join(dir, 'full.safetensors');
    expect((await cli(['train', ...QUICK, '--epochs', '1', '--out', out])).code).toBe(0);
    const before = sha(out);
    // Files over 4 KiB cannot be written (EFBIG): the next checkpoint write fails.
    const r = await run('bash', ['-c', `trap '' XFSZ; ulimit -f 8; exec "${process.execPath}" "${BIN}" train ${QUICK.join(' ')} --epochs 1 --out "${out}"`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^deeprnn: error: could not write checkpoint ${out} \\(EFBIG: file too large.*\\); the previous checkpoint there is intact$`));
    expect(sha(out)).toBe(before);
    expect(readFileSync(out).length).toBeGreaterThan(4096);
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
  });
});
