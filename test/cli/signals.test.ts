// SIGINT / SIGTERM while training: stop after the batch, save, say how to
// resume, exit 130 / 143; the resumed run ends exactly where an uninterrupted
// one does. A second SIGINT quits at once without leaving a partial file.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { cli } from '../helpers/cli.js';
import { BIN, DATA_DIR } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const RUN = ['--cell', 'gru', '--hidden', '24', '--num-train', '2000', '--num-val', '200', '--batch-size', '50', '--num-steps', '20', '--dropout', '0.2'];

/** Starts a training run; sends each signal once stdout shows `after` epoch lines. */
function interrupted(args: string[], signals: NodeJS.Signals[], after = 1): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'train', ...args], { env: { ...process.env, DEEPRNN_DATA_DIR: DATA_DIR } });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (!sent && (stdout.match(/^epoch /gm) ?? []).length >= after) {
        sent = true;
        for (const s of signals) child.kill(s);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const weights = (file: string) => Buffer.from(loadCheckpoint(file).model.params.buffer);

describe('signals', () => {
  it('SIGINT saves, says how to resume, exits 130; the resumed run matches an uninterrupted one', async () => {
    const full = path.join(dir, 'full.safetensors');
    expect((await cli(['train', ...RUN, '--epochs', '6', '--out', full])).code).toBe(0);
    const out = path.join(dir, 'int.safetensors');
    const r = await interrupted([...RUN, '--epochs', '6', '--out', out], ['SIGINT']);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('SIGINT: stopping after this batch and saving a checkpoint');
    expect(r.stderr).toContain(`; checkpoint ${out}; resume with: deeprnn train --resume ${out}`);
    const state = loadCheckpoint(out).meta.state;
    expect(state.epoch).toBeLessThan(6);
    const again = (await cli(['train', '--resume', out, '--json']));
    expect(again.code).toBe(0);
    const j = JSON.parse(again.stdout);
    expect(j.epochs).toBe(6);
    expect(j.stopped).toBe(false);
    expect(weights(out).equals(weights(full))).toBe(true);
    const h1 = loadCheckpoint(out).meta.history.map((h) => h.valLoss);
    const h2 = loadCheckpoint(full).meta.history.map((h) => h.valLoss);
    expect(h1).toEqual(h2);
  });

  it('SIGTERM exits 143 after saving', async () => {
    const out = path.join(dir, 'term.safetensors');
    const r = await interrupted([...RUN, '--epochs', '50', '--out', out], ['SIGTERM']);
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('SIGTERM: stopping after this batch');
    expect(loadCheckpoint(out).meta.state.epoch).toBeGreaterThanOrEqual(1);
  });

  it('a second SIGINT quits at once and leaves no partial file', async () => {
    const sub = path.join(dir, 'twice');
    const out = path.join(sub, 'twice.safetensors');
    const r = await interrupted([...RUN, '--epochs', '50', '--out', out], ['SIGINT', 'SIGINT']);
    expect(r.code).toBe(130);
    expect(readdirSync(sub).filter((f) => f.includes('.tmp-'))).toEqual([]);
    // What is there is a complete checkpoint.
    expect(loadCheckpoint(out).meta.state.epoch).toBeGreaterThanOrEqual(1);
  });

  it('refuses run settings next to --resume', async () => {
    const r = (await cli(['train', '--resume', path.join(dir, 'full.safetensors'), '--lr', '0.5']));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("deeprnn: error: --lr cannot be given with --resume: the run's settings come from the checkpoint");
    const m = (await cli(['train', '--resume', path.join(dir, 'missing.safetensors')]));
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/checkpoint .*missing.safetensors does not exist/);
  });
});
