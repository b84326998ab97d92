// What the commands write: never over a file they read (through symlinks and
// hard links too), only where they can (checked before training), atomically,
// through a symlinked --out, with one lock per --out, an earlier run's files
// kept aside, stale temporary files cleaned, and a clear line when a write
// fails for lack of space.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, loadCheckpoint, loadTrainingCheckpoint, type CheckpointMeta } from '../../src/io/checkpoint.js';
import { cli, run } from '../helpers/cli.js';
import { BIN, DATA_DIR, TIMEMACHINE } from '../helpers/paths.js';
import { CAN_MOUNT, cliAsUser, inTmpfs } from '../helpers/sandbox.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
chmodSync(dir, 0o755);
/** A run of a second or less. */
const TINY = ['--hidden', '8', '--num-train', '200', '--num-val', '100', '--batch-size', '50', '--num-steps', '16', '--epochs', '1'];
const sha = (f: string) => createHash('sha1').update(readFileSync(f)).digest('hex');
const error = (r: { code: number | null; stderr: string }, code = 2) => {
  expect(r.code).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0];
};

function corpus(name: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, readFileSync(TIMEMACHINE, 'utf8').slice(0, 12_000));
  return file;
}

describe('no command writes over a file it reads', () => {
  it('train: --out, or a file beside it, that is the corpus, by name, symlink or hard link', async () => {
    const text = corpus('text.txt');
    const before = sha(text);
    const link = path.join(dir, 'link.safetensors');
    symlinkSync(text, link);
    const hard = path.join(dir, 'hard.safetensors');
    linkSync(text, hard);
    const cases: [string, string][] = [
      [text, `--out ${text} would overwrite --corpus ${text}, which this command reads; choose another path`],
      [link, `--out ${link} would overwrite --corpus ${text} (the same file), which this command reads; choose another path`],
      [hard, `--out ${hard} would overwrite --corpus ${text} (the same file), which this command reads; choose another path`],
    ];
    for (const [out, message] of cases) {
      const r = await cli(['train', ...TINY, '--corpus', text, '--out', out]);
      expect(error(r)).toBe(`deeprnn: error: ${message}`);
      expect(r.stdout).toBe('');
    }
    // The metrics file NAME.metrics.jsonl of --out NAME.safetensors.
    const metrics = corpus('run.metrics.jsonl');
    const r = await cli(['train', ...TINY, '--corpus', metrics, '--out', path.join(dir, 'run.safetensors')]);
    expect(error(r)).toBe(`deeprnn: error: the metrics file ${path.join(dir, 'run.metrics.jsonl')} would overwrite --corpus ${metrics}, which this command reads; choose another path`);
    expect(sha(text)).toBe(before);
    expect(readdirSync(dir).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });

  it('eval --write-baseline and plot -o: the checkpoint, the corpus, a metrics file', async () => {
    const model = path.join(dir, 'model.safetensors');
    expect((await cli(['train', ...TINY, '--out', model])).code).toBe(0);
    const before = sha(model);
    const r1 = await cli(['eval', model, '--corpus', 'timemachine', '--write-baseline', model]);
    expect(error(r1)).toBe(`deeprnn: error: --write-baseline ${model} would overwrite the checkpoint ${model}, which this command reads; choose another path`);
    const text = corpus('eval.txt');
    const hard = path.join(dir, 'eval-hard.json');
    linkSync(text, hard);
    const r2 = await cli(['eval', model, '--corpus', text, '--write-baseline', hard]);
    expect(error(r2)).toBe(`deeprnn: error: --write-baseline ${hard} would overwrite --corpus ${text} (the same file), which this command reads; choose another path`);
    const metrics = path.join(dir, 'model.metrics.jsonl');
    const svg = path.join(dir, 'metrics-link.svg');
    symlinkSync(metrics, svg);
    const r3 = await cli(['plot', metrics, '-o', svg]);
    expect(error(r3)).toBe(`deeprnn: error: --out ${svg} would overwrite metrics file ${metrics} (the same file), which this command reads; choose another path`);
    expect(sha(model)).toBe(before);
    expect(readFileSync(metrics, 'utf8')).toMatch(/^\{"epoch":1,/);
  });

  it('refuses a standard output that is a file the command reads (info CKPT >> CKPT)', async () => {
    const model = path.join(dir, 'model.safetensors');
    const before = sha(model);
    const r = await run('bash', ['-c', `"${process.execPath}" "${BIN}" info "${model}" >> "${model}"`]);
    expect(error(r)).toBe(`deeprnn: error: the standard output is the checkpoint ${model}, which this command reads; redirect the output elsewhere`);
    expect(sha(model)).toBe(before);
  });

  it('compare: the comparison plot that is a corpus', async () => {
    const outDir = path.join(dir, 'cmp');
    mkdirSync(outDir);
    const text = path.join(outDir, 'compare.svg');
    writeFileSync(text, readFileSync(TIMEMACHINE, 'utf8').slice(0, 12_000));
    const r = await cli(['compare', '--cells', 'rnn', ...TINY, '--corpus', text, '--out-dir', outDir]);
    expect(error(r)).toBe(`deeprnn: error: the comparison plot ${text} would overwrite --corpus ${text}, which this command reads; choose another path`);
  });

  it('compare checks every cell\'s outputs before the first cell trains', async () => {
    // Before, gru trained and wrote its files, then lstm's path stopped the comparison: no table, no plot.
    const outDir = path.join(dir, 'cmp-pre');
    mkdirSync(path.join(outDir, 'lstm.safetensors'), { recursive: true });
    const r = await cli(['compare', '--cells', 'gru,lstm', ...TINY, '--out-dir', outDir]);
    expect(error(r)).toBe(`deeprnn: error: checkpoint path ${path.join(outDir, 'lstm.safetensors')} exists and is not a regular file`);
    expect(readdirSync(outDir)).toEqual(['lstm.safetensors']);
    // A later cell's checkpoint path that holds a file of another kind.
    const foreign = path.join(dir, 'cmp-foreign');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'lstm.safetensors'), 'not a model\n');
    const r1 = await cli(['compare', '--cells', 'gru,lstm', ...TINY, '--out-dir', foreign]);
    expect(error(r1)).toBe(`deeprnn: error: lstm's checkpoint ${path.join(foreign, 'lstm.safetensors')} exists and is not a deeprnn checkpoint `
      + "(not a safetensors file): a run writes over an earlier run's checkpoint, never another file; move it away, or choose another --out-dir");
    expect(readdirSync(foreign)).toEqual(['lstm.safetensors']);
    // A later cell's checkpoint that a running train holds.
    const busy = path.join(dir, 'cmp-busy');
    const rnn = path.join(busy, 'rnn.safetensors');
    const first = await longRun(rnn);
    const r2 = await cli(['compare', '--cells', 'gru,rnn', ...TINY, '--out-dir', busy]);
    expect(error(r2)).toBe(`deeprnn: error: rnn's checkpoint ${rnn} is in use by another deeprnn process (pid ${first.pid}): `
      + `wait for it to finish or choose another path (lock file ${rnn}.lock)`);
    expect(existsSync(path.join(busy, 'gru.safetensors'))).toBe(false);
    const closed = new Promise((resolve) => first.on('close', resolve));
    first.kill('SIGTERM');
    await closed;
    expect(readdirSync(busy).filter((f) => !f.startsWith('rnn.'))).toEqual([]);
  }, 120_000);

  it('compare --out-dir "" is refused (before, the runs went into the working directory)', async () => {
    const cwd = path.join(dir, 'cmp-empty');
    mkdirSync(cwd);
    const r = await cli(['compare', '--cells', 'rnn', ...TINY, '--out-dir', ''], { cwd });
    expect(error(r)).toBe('deeprnn: error: --out-dir must be a directory path, got ""');
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('--out is checked before training', () => {
  it('a directory that is not writable, a parent that is a file, a name ending in "/"', async () => {
    const ro = path.join(dir, 'readonly');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    const inRo = path.join(ro, 'sub', 'm.safetensors');
    const r1 = await cliAsUser(['train', ...TINY, '--out', inRo]);
    expect(error(r1)).toBe(`deeprnn: error: checkpoint path ${inRo} cannot be written: the directory ${ro} is not writable (EACCES)`);
    expect(r1.stdout).toBe('');
    const file = corpus('plain.txt');
    const under = path.join(file, 'm.safetensors');
    const r2 = await cli(['train', ...TINY, '--out', under]);
    expect(error(r2)).toBe(`deeprnn: error: checkpoint path ${under} cannot be written: ${file} is not a directory`);
    const slash = path.join(dir, 'newdir') + '/';
    const r3 = await cli(['train', ...TINY, '--out', slash]);
    expect(error(r3)).toBe(`deeprnn: error: checkpoint path ${slash} ends with "/": expected a file name, not a directory`);
    expect(existsSync(slash)).toBe(false);
    // The plot NAME.svg beside it is checked too.
    mkdirSync(path.join(dir, 'plotdir.svg'));
    const r4 = await cli(['train', ...TINY, '--out', path.join(dir, 'plotdir.safetensors')]);
    expect(error(r4)).toBe(`deeprnn: error: the plot ${path.join(dir, 'plotdir.svg')} exists and is not a regular file`);
  });

  it('a file at --out that is no deeprnn checkpoint stays (a user\'s notes, another program\'s model); an empty one or a checkpoint is replaced', async () => {
    // Before, the run's first checkpoint replaced it without a word.
    const sub = path.join(dir, 'foreign');
    mkdirSync(sub);
    const notes = path.join(sub, 'notes.txt');
    writeFileSync(notes, 'my notes, do not lose\n');
    const other = path.join(sub, 'other.safetensors');
    const header = Buffer.from(JSON.stringify({ __metadata__: { format: 'pt' }, w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(other, Buffer.concat([len, header, Buffer.alloc(4)]));
    for (const [file, why] of [[notes, 'not a safetensors file'],
      [other, 'a safetensors file without deeprnn\'s metadata']] as const) {
      const before = readFileSync(file);
      const r = await cli(['train', ...TINY, '--out', file]);
      expect(error(r)).toBe(`deeprnn: error: --out ${file} exists and is not a deeprnn checkpoint (${why}): a run writes over an earlier run's checkpoint, `
        + 'never another file; move it away, or choose another --out');
      expect(readFileSync(file).equals(before)).toBe(true);
      expect(readdirSync(sub).sort()).toEqual(['notes.txt', 'other.safetensors']);
    }
    const empty = path.join(sub, 'empty.safetensors');
    writeFileSync(empty, '');
    for (let i = 0; i < 2; i++) {
      const r = await cli(['train', ...TINY, '--out', empty]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(loadTrainingCheckpoint(empty).meta.state.epoch).toBe(1);
  });

  it('a symlinked --out is written through: the link stays, its target gets the checkpoint', async () => {
    const target = path.join(dir, 'runs', 'target.safetensors');
    mkdirSync(path.dirname(target));
    const link = path.join(dir, 'latest.safetensors');
    symlinkSync(target, link); // dangling until the first save
    expect((await cli(['train', ...TINY, '--out', link])).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(target);
    expect(loadTrainingCheckpoint(target).meta.state.epoch).toBe(1);
    expect((await cli(['train', '--resume', link, '--epochs', '2'])).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(loadTrainingCheckpoint(target).meta.state.epoch).toBe(2);
    // A link to a device is refused, not written through.
    const dev = path.join(dir, 'null.safetensors');
    symlinkSync('/dev/null', dev);
    expect(error(await cli(['train', ...TINY, '--out', dev]))).toBe(`deeprnn: error: checkpoint path ${dev} exists and is not a regular file`);
  });
});

/** A run of 1000 epochs on `out`, once its first epoch is done. */
async function longRun(out: string): Promise<ReturnType<typeof spawn>> {
  const run = spawn(process.execPath, [BIN, 'train', ...TINY, '--epochs', '1000', '--out', out], { env: { ...process.env, DEEPRNN_DATA_DIR: DATA_DIR } });
  await new Promise<void>((resolve) => {
    let seen = '';
    run.stdout.on('data', (d: Buffer) => {
      seen += d;
      if (seen.includes('epoch 1/1000')) resolve();
    });
  });
  return run;
}

describe('one run per --out', () => {
  it('a resume finds its best checkpoint that a fresh run killed before its first save kept aside, and puts it back', async () => {
    // Before: the resumed run went on with its best only as *.bak, and the next fresh run replaced that.
    const out = path.join(dir, 'killed.safetensors');
    const best = path.join(dir, 'killed.best.safetensors');
    expect((await cli(['train', ...TINY, '--epochs', '2', '--out', out])).code).toBe(0);
    const bestBytes = readFileSync(best);
    renameSync(best, `${best}.bak`);  // what the fresh run did before kill -9
    const r = await cli(['train', '--resume', out, '--epochs', '3']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^note: killed\\.best\\.safetensors\\.bak, this run's best checkpoint \\(epoch \\d\\), kept aside by a fresh run on this --out that did not finish, is back as killed\\.best\\.safetensors$`, 'm'));
    expect(existsSync(`${best}.bak`)).toBe(false);
    const h = loadTrainingCheckpoint(out).meta.history;
    const keptBest = loadTrainingCheckpoint(best).meta.history;
    // the epoch-3 best replaced it when epoch 3 improved; else it is the file put back
    if (h[2]!.valPpl < Math.min(h[0]!.valPpl, h[1]!.valPpl)) expect(keptBest).toHaveLength(3);
    else expect(readFileSync(best).equals(bestBytes)).toBe(true);
    // a *.bak that is another run's best stays where it is, with a warning
    const other = path.join(dir, 'other.safetensors');
    expect((await cli(['train', ...TINY, '--epochs', '1', '--seed', '9', '--out', other])).code).toBe(0);
    renameSync(path.join(dir, 'other.best.safetensors'), `${best}.bak2`);
    renameSync(best, path.join(dir, 'ours.best'));
    renameSync(`${best}.bak2`, `${best}.bak`);
    const w = await cli(['train', '--resume', out, '--epochs', '4']);
    expect(w.code).toBe(0);
    expect(w.stderr).toContain(`deeprnn: warning: this run's best checkpoint ${best} is missing, and ${best}.bak is there but is not this run's best`);
    expect(existsSync(`${best}.bak`)).toBe(true);
  });

  it('a resume whose best checkpoint is another history\'s keeps it aside with a warning; one whose best is missing says so', async () => {
    // Before: an earlier copy of the checkpoint put back at --out left the abandoned later epochs' best in place, the run
    // reported another best than the file held, and its next best replaced the better weights without a word.
    const sub = path.join(dir, 'rollback');
    mkdirSync(sub);
    const out = path.join(sub, 'm.safetensors');
    const best = path.join(sub, 'm.best.safetensors');
    expect((await cli(['train', ...TINY, '--epochs', '1', '--out', out])).code).toBe(0);
    const early = readFileSync(out);
    expect((await cli(['train', '--resume', out, '--epochs', '3'])).code).toBe(0);
    const later = readFileSync(best);
    expect(loadTrainingCheckpoint(best).meta.history.length).toBeGreaterThan(1);  // (the best of three epochs of a falling loss)
    writeFileSync(out, early);  // the copy of epoch 1, put back
    const r = await cli(['train', '--resume', out, '--epochs', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`deeprnn: warning: the best checkpoint ${best} is not this run's (its history is not the first epochs of the checkpoint's, `
      + 'ending at its best: another run\'s, or a later one of this run\'s abandoned since); kept aside as m.best.safetensors.bak, and the run writes a new best when it improves');
    expect(readFileSync(`${best}.bak`).equals(later)).toBe(true);
    const h = loadTrainingCheckpoint(out).meta.history;
    expect(loadTrainingCheckpoint(best).meta.history).toEqual(h.slice(0, h[1]!.valPpl < h[0]!.valPpl ? 2 : 1));
    // A best one improving epoch ahead of the checkpoint (most likely a run stopped between its best and its
    // checkpoint, which is written second): kept aside as well, since the resume may not repeat that epoch
    // (--epochs 1 here), but with a note rather than the warning for another history's.
    const ahead = readFileSync(best);
    expect(loadTrainingCheckpoint(best).meta.history).toHaveLength(2);
    writeFileSync(out, early);
    const n = await cli(['train', '--resume', out, '--epochs', '1']);
    expect(n.code, n.stderr).toBe(0);
    expect(n.stderr).toBe('');
    expect(n.stdout).toContain('note: the best checkpoint m.best.safetensors is of epoch 2, one epoch past this checkpoint\'s history (a run stopped '
      + 'after writing its best and before its checkpoint, or an earlier copy of the checkpoint put back); kept aside as m.best.safetensors.bak, '
      + 'and the run writes its best again when it improves\n');
    expect(readFileSync(`${best}.bak`).equals(ahead)).toBe(true);
    expect(existsSync(best)).toBe(false);
    // and a resume that repeats the epoch writes the same best again (its timings are the new run's)
    const r2 = await cli(['train', '--resume', out, '--epochs', '2']);
    expect(r2.code, r2.stderr).toBe(0);
    const [was, now] = [decodeCheckpoint(ahead, best), loadCheckpoint(best)];
    expect(now.model.params).toEqual(was.model.params);
    const losses = (meta: unknown) => (meta as CheckpointMeta).history.map((m) => [m.epoch, m.trainLoss, m.valPpl]);
    expect(losses(now.meta)).toEqual(losses(was.meta));
    // one that cannot be kept aside (a directory at *.bak) stops the resume before it writes, naming both
    writeFileSync(out, early);
    writeFileSync(best, later);  // the abandoned epochs' best, two epochs ahead
    const theirs = readFileSync(best);
    renameSync(`${best}.bak`, path.join(sub, 'saved.bak'));
    mkdirSync(`${best}.bak`);
    const stuck = await cli(['train', '--resume', out, '--epochs', '2']);
    expect(error(stuck)).toBe(`deeprnn: error: the best checkpoint ${best} is not this run's (its history is not the first epochs of the checkpoint's, `
      + `ending at its best), and it cannot be kept aside as ${best}.bak (${best}.bak exists and is not a regular file); move it away`);
    expect(readFileSync(best).equals(theirs)).toBe(true);
    rmSync(`${best}.bak`, { recursive: true });
    renameSync(path.join(sub, 'saved.bak'), `${best}.bak`);
    writeFileSync(out, early);
    expect((await cli(['train', '--resume', out, '--epochs', '2'])).code).toBe(0);
    // its own best stays, without a word
    const again = await cli(['train', '--resume', out, '--epochs', '2']);
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('');
    // a missing best is said (before, the run reported a best no file held)
    rmSync(best);
    rmSync(`${best}.bak`);
    const gone = await cli(['train', '--resume', out, '--epochs', '3']);
    expect(gone.code).toBe(0);
    expect(gone.stderr).toContain(`deeprnn: warning: this run's best checkpoint ${best} is missing; the run goes on and writes a new best when it improves`);
  });

  it('a fresh run keeps an earlier run\'s metrics, best checkpoint and plot aside as *.bak', async () => {
    const out = path.join(dir, 'again.safetensors');
    expect((await cli(['train', ...TINY, '--epochs', '2', '--out', out])).code).toBe(0);
    const first = readFileSync(path.join(dir, 'again.metrics.jsonl'), 'utf8');
    const r = await cli(['train', ...TINY, '--seed', '7', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(`note: an earlier run wrote to --out ${out}; its again.metrics.jsonl, again.best.safetensors, again.svg kept aside as *.bak`);
    const lines = readFileSync(path.join(dir, 'again.metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).epoch)).toEqual([1]);
    expect(readFileSync(path.join(dir, 'again.metrics.jsonl.bak'), 'utf8')).toBe(first);
    expect(loadTrainingCheckpoint(path.join(dir, 'again.best.safetensors')).meta.training.seed).toBe(7);
    expect(loadTrainingCheckpoint(path.join(dir, 'again.best.safetensors.bak')).meta.training.seed).toBe(42);
    // A backup name taken by something else stops the run before training, naming it.
    const metrics = path.join(dir, 'again.metrics.jsonl');
    const bak = `${metrics}.bak`;
    rmSync(bak);
    mkdirSync(bak);
    const r2 = await cli(['train', ...TINY, '--out', out]);
    expect(error(r2)).toBe(`deeprnn: error: cannot keep ${metrics}, an earlier run's file, aside as ${bak} (${bak} exists and is not a regular file); move it away or choose another --out`);
    expect(r2.stdout).toBe('');
  });

  it('a run that fails before it saved anything puts the earlier run\'s files back, and leaves none of its own', async () => {
    // Before, the failed run left an empty metrics file, and a retry kept that
    // aside as *.bak in place of the good run's.
    const sub = path.join(dir, 'retry');
    const out = path.join(sub, 'm.safetensors');
    expect((await cli(['train', ...TINY, '--epochs', '2', '--out', out])).code).toBe(0);
    const snapshot = () => Object.fromEntries(readdirSync(sub).sort().map((f) => [f, readFileSync(path.join(sub, f), 'latin1')]));
    const before = snapshot();
    expect(Object.keys(before)).toEqual(['m.best.safetensors', 'm.metrics.jsonl', 'm.safetensors', 'm.svg']);
    for (let i = 0; i < 2; i++) {
      const r = await cli(['train', ...TINY, '--lr', '1e30', '--out', out]);
      expect(r.code).toBe(1);
      expect(error(r, 1)).toMatch(/^deeprnn: error: training diverged in epoch 1: .*; try a lower --lr or a smaller --clip; no checkpoint of this run was saved before it$/);
      expect(snapshot()).toEqual(before);
    }
  });

  it('an empty metrics file (a run killed before its first epoch) is removed, not kept aside over the earlier run\'s', async () => {
    const sub = path.join(dir, 'killed');
    const out = path.join(sub, 'm.safetensors');
    expect((await cli(['train', ...TINY, '--out', out])).code).toBe(0);
    const metrics = path.join(sub, 'm.metrics.jsonl');
    const good = readFileSync(metrics, 'utf8');
    // What a second run killed (kill -9) in its first batch leaves: the first run's files aside, its own metrics empty.
    for (const f of ['m.metrics.jsonl', 'm.best.safetensors', 'm.svg']) copyFileSync(path.join(sub, f), path.join(sub, `${f}.bak`));
    writeFileSync(metrics, '');
    const r = await cli(['train', ...TINY, '--seed', '7', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(`note: an earlier run wrote to --out ${out}; its m.best.safetensors, m.svg kept aside as *.bak`);
    expect(readFileSync(`${metrics}.bak`, 'utf8')).toBe(good);
  });

  it('a second writer on one --out refuses; a killed writer leaves no lock in the way', async () => {
    const out = path.join(dir, 'busy.safetensors');
    const first = await longRun(out);
    const lock = `${out}.lock`;
    const second = await cli(['train', ...TINY, '--out', out]);
    expect(error(second)).toBe(`deeprnn: error: --out ${out} is in use by another deeprnn process (pid ${first.pid}): wait for it to finish or choose another path (lock file ${lock})`);
    const closed = new Promise((resolve) => first.on('close', resolve));
    first.kill('SIGKILL');
    await closed;
    expect(existsSync(lock)).toBe(true);
    const third = await cli(['train', '--resume', out, '--epochs', String(loadTrainingCheckpoint(out).meta.state.epoch + 1)]);
    expect(third.code).toBe(0);
    expect(existsSync(lock)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('busy') && f.includes('.lock'))).toEqual([]);
  });

  it('--out NAME.ckpt and NAME.bin share NAME.metrics.jsonl and NAME.svg: one at a time, and the note says whose files it kept aside', async () => {
    // Before, both ran at once and their epochs interleaved in one metrics file;
    // and the note named the second --out as the earlier run's.
    const sub = path.join(dir, 'stem');
    const ckpt = path.join(sub, 'm.ckpt');
    const bin = path.join(sub, 'm.bin');
    const metrics = path.join(sub, 'm.metrics.jsonl');
    const first = await longRun(ckpt);
    const second = await cli(['train', ...TINY, '--out', bin]);
    expect(error(second)).toBe(`deeprnn: error: --out ${bin} (its metrics file ${metrics}) is in use by another deeprnn process (pid ${first.pid}): `
      + `wait for it to finish or choose another path (lock file ${metrics}.lock)`);
    expect(existsSync(bin)).toBe(false);
    const closed = new Promise((resolve) => first.on('close', resolve));
    first.kill('SIGTERM');
    await closed;
    expect(readdirSync(sub).filter((f) => f.includes('.lock'))).toEqual([]);
    const theirs = readFileSync(metrics, 'utf8');
    const third = await cli(['train', ...TINY, '--out', bin]);
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout.split('\n')[0]).toBe(`note: m.metrics.jsonl, m.svg beside --out ${bin} are an earlier run's (one whose --out had this name `
      + 'with another extension, that ended before its first checkpoint, or whose checkpoint was removed); kept aside as *.bak');
    expect(readFileSync(`${metrics}.bak`, 'utf8')).toBe(theirs);
  }, 120_000);

  it('a run whose --out is another running run\'s best checkpoint, or whose best is its --out, refuses', async () => {
    // Before, both ran and the first's best checkpoint overwrote the second's.
    const sub = path.join(dir, 'overlap');
    const out = path.join(sub, 'm.safetensors');
    const best = path.join(sub, 'm.best.safetensors');
    for (const [mine, theirs] of [[out, best], [best, out]] as const) {
      const first = await longRun(mine);
      const second = await cli(['train', ...TINY, '--out', theirs]);
      const lock = `${best}.lock`;
      const named = theirs === out ? `--out ${out} (its best checkpoint ${best})` : `--out ${best}`;
      expect(error(second)).toBe(`deeprnn: error: ${named} is in use by another deeprnn process (pid ${first.pid}): wait for it to finish or choose another path (lock file ${lock})`);
      const closed = new Promise((resolve) => first.on('close', resolve));
      first.kill('SIGTERM');
      await closed;
      // The refused run took no lock and left the first's out lock free as well.
      expect(readdirSync(sub).filter((f) => f.includes('.lock'))).toEqual([]);
      expect(loadTrainingCheckpoint(mine).meta.training.seed).toBe(42);
    }
  }, 120_000);

  it('cleans the temporary files of writers that died, and keeps those of live ones', async () => {
    const out = path.join(dir, 'stale.safetensors');
    expect((await cli(['train', ...TINY, '--out', out])).code).toBe(0);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const stale = ['.stale.safetensors', '.stale.best.safetensors', '.stale.e0001.safetensors', '.stale.svg'].map((n) => path.join(dir, `${n}.tmp-${dead}`));
    const live = path.join(dir, `.stale.safetensors.tmp-${process.pid}`);
    for (const f of [...stale, live]) writeFileSync(f, 'partial');
    expect((await cli(['train', '--resume', out, '--epochs', '2'])).code).toBe(0);
    for (const f of stale) expect(existsSync(f), f).toBe(false);
    expect(existsSync(live)).toBe(true);
  });
});

describe.skipIf(!CAN_MOUNT)('a full disk', () => {
  it('train: a metrics file or plot that cannot be written is named, and the checkpoint is said intact', async () => {
    // Learn the files' sizes on a roomy disk, then give the run just the room for its checkpoints.
    const probe = path.join(dir, 'probe');
    mkdirSync(probe);
    expect((await cli(['train', ...TINY, '--out', path.join(probe, 'm.safetensors')])).code).toBe(0);
    const pages = (f: string) => Math.ceil(readFileSync(path.join(probe, f)).length / 4096);
    const room = 4 * (pages('m.safetensors') + pages('m.best.safetensors') + pages('m.metrics.jsonl') + 3 /* the locks of --out, its best and its metrics */);
    const mnt = path.join(dir, 'full');
    mkdirSync(mnt);
    const out = path.join(mnt, 'm.safetensors');
    const r = await inTmpfs(mnt, `${room}k`, `deeprnn train ${TINY.join(' ')} --out ${out}; code=$?; deeprnn info ${out} >/dev/null && echo loads; exit $code`);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(
      `^deeprnn: error: could not write (metrics file ${path.join(mnt, 'm.metrics.jsonl')}|plot ${path.join(mnt, 'm.svg')}) `
        + `\\(ENOSPC: no space left on device, write\\); the checkpoint ${out} \\(epoch 1, batch 0\\) is intact$`,
    ));
    expect(r.stdout).toMatch(/\nloads\n$/);
  });

  it('train: a retry whose first checkpoint does not fit puts the earlier run\'s files back, every time', async () => {
    // The earlier run's files are kept aside as *.bak at the start; the retry's
    // first write (its best checkpoint) fails for room. Before, the retry left an
    // empty metrics file, which the next retry kept aside over the good run's.
    const mnt = path.join(dir, 'full-retry');
    mkdirSync(mnt);
    const out = path.join(mnt, 'm.safetensors');
    const T = ['--num-train', '300', '--num-val', '100', '--batch-size', '64', '--hidden', '16', '--num-steps', '16'];
    const r = await inTmpfs(mnt, '60k', `deeprnn train ${T.join(' ')} --epochs 1 --out ${out} >/dev/null; echo "first $?" >&2
cd ${mnt}; md5sum *
for i in 1 2; do deeprnn train ${T.join(' ')} --epochs 2 --seed 7 --out ${out} >/dev/null 2>/dev/null; echo "retry $?" >&2; echo ==; md5sum *; done`);
    expect(r.stderr.trim().split('\n')).toEqual(['first 0', 'retry 1', 'retry 1']);
    const [before, ...after] = r.stdout.split('==\n');
    expect(before!.trim().split('\n').map((l) => l.split(/\s+/)[1])).toEqual(['m.best.safetensors', 'm.metrics.jsonl', 'm.safetensors', 'm.svg']);
    for (const listing of after) expect(listing).toBe(before);
  });

  it('train: a run whose best checkpoint fits but whose first checkpoint does not keeps its best aside and puts the earlier run\'s back', async () => {
    // Before, the failed run's best stayed beside the earlier run's checkpoint
    // (another model), and a retry kept it aside in place of the earlier run's best.
    const A = ['--num-train', '300', '--num-val', '100', '--batch-size', '64', '--num-steps', '16', '--epochs', '1'];
    const probe = path.join(dir, 'probe-best');
    mkdirSync(probe);
    expect((await cli(['train', ...A, '--hidden', '8', '--out', path.join(probe, 'a.safetensors')])).code).toBe(0);
    expect((await cli(['train', ...A, '--hidden', '96', '--out', path.join(probe, 'b.safetensors')])).code).toBe(0);
    const pages = (f: string) => Math.ceil(readFileSync(path.join(probe, f)).length / 4096);
    const earlier = ['a.safetensors', 'a.best.safetensors', 'a.metrics.jsonl', 'a.svg'].reduce((n, f) => n + pages(f), 0);
    // the earlier run's files, three locks, an earlier failed run's best (one page), the new best, and half of the new checkpoint
    const room = 4 * (earlier + 3 + 1 + pages('b.best.safetensors') + Math.floor(pages('b.safetensors') / 2));
    const mnt = path.join(dir, 'full-best');
    mkdirSync(mnt);
    const out = path.join(mnt, 'm.safetensors');
    // An earlier failed run's best is there already: it is not overwritten, the next free name is taken.
    const r = await inTmpfs(mnt, `${room}k`, `deeprnn train ${A.join(' ')} --hidden 8 --out ${out} >/dev/null; echo "first $?" >&2
cd ${mnt}; md5sum *; echo earlier > m.best.failed.safetensors
for i in 1 2; do deeprnn train ${A.join(' ')} --hidden 96 --out ${out} >/dev/null; echo "retry $?" >&2; echo ==; md5sum *; cat m.best.failed.safetensors
deeprnn info m.best.failed-2.safetensors --json; rm m.best.failed-2.safetensors; done`);
    const kept = path.join(mnt, 'm.best.failed-2.safetensors');
    const failure = new RegExp(`^deeprnn: error: could not write checkpoint ${out} \\(ENOSPC: no space left on device, write[^)]*\\); the previous checkpoint there is intact; `
      + `this run's best checkpoint \\(epoch 1\\) is kept as ${kept}$`);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe('first 0');
    for (const i of [1, 3]) {
      expect(lines[i]).toMatch(failure);
      expect(lines[i + 1]).toBe('retry 1');
    }
    const [before, ...after] = r.stdout.split('==\n');
    expect(before!.trim().split('\n').map((l) => l.split(/\s+/)[1])).toEqual(['m.best.safetensors', 'm.metrics.jsonl', 'm.safetensors', 'm.svg']);
    for (const listing of after) {
      // the earlier run's files as they were, the earlier failed best untouched, and this run's best (hidden 96) under the next name
      const [sums, info] = listing.split(/(?=^\{)/m);
      expect(sums!.endsWith('\nearlier\n')).toBe(true);
      expect(sums!.slice(0, -'earlier\n'.length).split('\n').filter((l) => !/m\.best\.failed/.test(l)).join('\n')).toBe(before);
      expect(JSON.parse(info!).hidden).toEqual([96, 96]);
    }
  });

  it('eval --write-baseline and plot -o name the file they could not write', async () => {
    const model = path.join(dir, 'model.safetensors');
    const mnt = path.join(dir, 'full2');
    mkdirSync(mnt);
    const base = path.join(mnt, 'base.json');
    const svg = path.join(mnt, 'p.svg');
    const r = await inTmpfs(mnt, '4k', `head -c 4096 /dev/zero > ${mnt}/filler
deeprnn eval ${model} --corpus timemachine --write-baseline ${base} >/dev/null; echo "eval $?" >&2
deeprnn plot ${path.join(dir, 'model.metrics.jsonl')} -o ${svg} >/dev/null; echo "plot $?" >&2
ls -A ${mnt}`);
    expect(r.stderr.trim().split('\n')).toEqual([
      `deeprnn: error: could not write --write-baseline ${base} (ENOSPC: no space left on device, write)`, 'eval 1',
      `deeprnn: error: could not write --out ${svg} (ENOSPC: no space left on device, write)`, 'plot 1',
    ]);
    expect(r.stdout.trim()).toBe('filler');
  });
});

describe('messages about paths', () => {
  it('--baseline that is a directory', async () => {
    const r = await cli(['eval', path.join(dir, 'model.safetensors'), '--corpus', 'timemachine', '--baseline', dir]);
    expect(error(r)).toBe(`deeprnn: error: --baseline ${dir} is not a regular file (expected the JSON file that --write-baseline writes)`);
  });

  it('a metrics file that is a directory', async () => {
    const r = await cli(['plot', dir, '-o', path.join(dir, 'x.svg')]);
    expect(error(r)).toBe(`deeprnn: error: metrics file ${dir} is not a regular file (expected NAME.metrics.jsonl written by deeprnn train)`);
  });

  it('an --out whose name leaves no room for the files written beside it is refused at the start, with the length that fits', async () => {
    const sub = path.join(dir, 'long');
    const long = path.join(sub, `${'q'.repeat(238)}.safetensors`);
    const r = await cli(['train', ...TINY, '--out', long]);
    expect(error(r)).toMatch(new RegExp(`^deeprnn: error: --out ${long}: its name is 250 bytes, and the files a run writes beside it have longer ones `
      + `\\(\\.q+\\.e100000-b999999999\\.safetensors\\.tmp-PID\\); file systems take names of at most 255 bytes: use a name of at most 223 bytes$`));
    expect(existsSync(sub)).toBe(false);
    const fits = path.join(sub, `${'q'.repeat(211)}.safetensors`);
    expect((await cli(['train', ...TINY, '--out', fits])).code).toBe(0);
  });

  it('copies keep working: a checkpoint copied elsewhere resumes into itself', async () => {
    const copy = path.join(dir, 'copy.safetensors');
    copyFileSync(path.join(dir, 'model.safetensors'), copy);
    expect((await cli(['train', '--resume', copy, '--epochs', '2'])).code).toBe(0);
    expect(readFileSync(path.join(dir, 'copy.metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch)).toEqual([1, 2]);
  });
});

describe('directories that cannot be made, and resumes with nothing to do', () => {
  // As root only: another user's check of the nearest directory there (/proc, not writable) refuses it first.
  it.skipIf(!existsSync('/proc/self') || process.getuid?.() !== 0)('a missing directory under /proc is refused at once (recursive mkdir would spin forever there)', async () => {
    const t = await cli(['train', ...TINY, '--out', '/proc/nonexist/x.safetensors']);
    expect(error(t)).toBe('deeprnn: error: checkpoint path /proc/nonexist/x.safetensors cannot be written: cannot create the directory /proc/nonexist (ENOENT)');
    const model = path.join(dir, 'proc-model.safetensors');
    expect((await cli(['train', ...TINY, '--out', model])).code).toBe(0);
    // export and eval too, before their work (before, after it, exit 1: access() tells root that /proc is writable)
    const e = await cli(['export', model, '--onnx', '/proc/nonexist/m.onnx']);
    expect(error(e)).toBe('deeprnn: error: --onnx /proc/nonexist/m.onnx cannot be written: cannot create the directory /proc/nonexist (ENOENT)');
    const v = await cli(['eval', model, '--corpus', TIMEMACHINE, '--write-baseline', '/proc/nonexist/b.json']);
    expect(error(v)).toBe('deeprnn: error: --write-baseline /proc/nonexist/b.json cannot be written: cannot create the directory /proc/nonexist (ENOENT)');
    expect(v.stdout).toBe('');
  });

  it('eval --write-baseline and plot -o create the directories they write into', async () => {
    const model = path.join(dir, 'mk-model.safetensors');
    expect((await cli(['train', ...TINY, '--out', model])).code).toBe(0);
    const base = path.join(dir, 'mk', 'a', 'base.json');
    const svg = path.join(dir, 'mk', 'b', 'p.svg');
    expect((await cli(['eval', model, '--corpus', TIMEMACHINE, '--write-baseline', base])).code).toBe(0);
    expect((await cli(['plot', path.join(dir, 'mk-model.metrics.jsonl'), '-o', svg])).code).toBe(0);
    expect(JSON.parse(readFileSync(base, 'utf8'))).toBeTruthy();
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg/);
  });

  it('--resume with --epochs behind the checkpoint is refused and writes nothing; with none left to run it writes --out', async () => {
    const model = path.join(dir, 'done.safetensors');
    expect((await cli(['train', ...TINY, '--epochs', '2', '--save-every', '3s', '--keep', '10', '--out', model])).code).toBe(0);
    const before = sha(model);
    const out = path.join(dir, 'done-1', 'r.safetensors');
    const r = await cli(['train', '--resume', model, '--epochs', '1', '--out', out]);
    expect(error(r)).toBe(`deeprnn: error: --epochs 1 (epochs in all) is behind the checkpoint's position (2 epochs done): give 2 or more to continue ${model}`);
    expect(existsSync(path.dirname(out))).toBe(false);
    // mid-epoch: 1 epoch and 2 batches done (steps 3 and 6 of 4-batch epochs)
    const mid = path.join(dir, 'done.e0001-b2.safetensors');
    const m = await cli(['train', '--resume', mid, '--epochs', '1', '--out', out]);
    expect(error(m)).toBe(`deeprnn: error: --epochs 1 (epochs in all) is behind the checkpoint's position (1 epoch done and 2 batches of the next): give 2 or more to continue ${mid}`);
    expect(existsSync(path.dirname(out))).toBe(false);
    expect(sha(model)).toBe(before);
    // nothing left to run: the checkpoint it names is there, with the same weights and history
    const same = path.join(dir, 'done-2', 'r.safetensors');
    const d = await cli(['train', '--resume', model, '--epochs', '2', '--out', same, '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout).checkpoint).toBe(same);
    const a = loadTrainingCheckpoint(model), b = loadTrainingCheckpoint(same);
    expect(Buffer.from(b.model.params.buffer).equals(Buffer.from(a.model.params.buffer))).toBe(true);
    expect(b.meta.history).toEqual(a.meta.history);
    expect(sha(model)).toBe(before);
  });

  it('--resume of a checkpoint with bf16 weights warns that it is not exact', async () => {
    const model = path.join(dir, 'bf-weights.safetensors');
    expect((await cli(['train', ...TINY, '--save-dtype', 'bf16', '--out', model])).code).toBe(0);
    const r = await cli(['train', '--resume', model, '--epochs', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`deeprnn: warning: ${model} stores its weights in bf16 (--save-dtype bf16): the run continues from the rounded weights, `
      + 'so it does not repeat an uninterrupted run bit for bit (fp32 checkpoints resume exactly)\n');
    const plain = path.join(dir, 'f32-weights.safetensors');
    expect((await cli(['train', ...TINY, '--out', plain])).code).toBe(0);
    expect((await cli(['train', '--resume', plain, '--epochs', '2'])).stderr).not.toContain('warning');
  });
});

describe.skipIf(!CAN_MOUNT)('a full disk at the start', () => {
  it('train: the lock that cannot be written is named, and nothing is left behind', async () => {
    const mnt = path.join(dir, 'full3');
    mkdirSync(mnt);
    const out = path.join(mnt, 'sub', 'm.safetensors');
    const r = await inTmpfs(mnt, '4k', `head -c 4096 /dev/zero > ${mnt}/filler
deeprnn train ${TINY.join(' ')} --out ${out}; echo "train $?" >&2
ls -A ${mnt}`);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe(`deeprnn: error: could not take the lock ${out}.lock for --out ${out}: writing ${out}.lock.PID failed (ENOSPC: no space left on device, write)`
      .replace('PID', lines[0]!.match(/lock\.(\d+-\d+) failed/)?.[1] ?? 'PID'));  // (PID-THREAD: the run's thread is a Worker)
    expect(lines.slice(1)).toEqual(['train 1']);
    expect(r.stdout.trim()).toBe('filler');
  });
});

/** Whether /sys refuses a new file (sysfs, even to root): a directory that checks cannot see as unwritable. */
const SYS_REFUSES = (() => {
  try {
    writeFileSync('/sys/deeprnn-probe', '');
    rmSync('/sys/deeprnn-probe', { force: true });
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EACCES' || (e as NodeJS.ErrnoException).code === 'EROFS';
  }
})();

describe.skipIf(!SYS_REFUSES)('a directory that refuses files', () => {
  // access() lets root write there; a directory made and removed again finds it out before the work
  const refused = (what: string, file: string) =>
    new RegExp(`^deeprnn: error: ${what} ${file} cannot be written: nothing can be created in the directory /sys \\((EPERM|EACCES|EROFS)\\)$`);

  it('train: refused before the run, exit 2', async () => {
    const r = await cli(['train', ...TINY, '--out', '/sys/m.safetensors']);
    expect(r.code).toBe(2);
    expect(error(r)).toMatch(refused('checkpoint path', '/sys/m.safetensors'));
  });

  it('eval --write-baseline, export --onnx and plot -o: refused before their work, exit 2 (before, after it, exit 1)', async () => {
    const model = path.join(dir, 'sys-model.safetensors');
    expect((await cli(['train', ...TINY, '--out', model])).code).toBe(0);
    const v = await cli(['eval', model, '--corpus', TIMEMACHINE, '--write-baseline', '/sys/b.json']);
    expect(v.code).toBe(2);
    expect(error(v)).toMatch(refused('--write-baseline', '/sys/b.json'));
    expect(v.stdout).toBe('');
    const e = await cli(['export', model, '--onnx', '/sys/m.onnx']);
    expect(e.code).toBe(2);
    expect(error(e)).toMatch(refused('--onnx', '/sys/m.onnx'));
    const p = await cli(['plot', path.join(dir, 'sys-model.metrics.jsonl'), '-o', '/sys/p.svg']);
    expect(p.code).toBe(2);
    expect(error(p)).toMatch(refused('--out', '/sys/p.svg'));
  });
});

describe('--resume with --early-stop', () => {
  it('the resumed run stops early by its own patience (it was ignored)', async () => {
    const S = ['--num-train', '200', '--num-val', '100', '--batch-size', '32', '--hidden', '8', '--lr', '50'];
    const model = path.join(dir, 'es', 'a.safetensors');
    expect((await cli(['train', ...S, '--epochs', '2', '--out', model])).code).toBe(0);
    const r = await cli(['train', '--resume', model, '--epochs', '10', '--early-stop', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.earlyStop).toBe(true);
    expect(j.epoch).toBeLessThan(10);
  });
});

describe('a file protected against writing', () => {
  // Before, a checkpoint or export made read-only (chmod a-w) was replaced by a
  // new file of mode 0644: the rename the directory allows undid the protection.
  it('is not replaced by train --out, train --resume or export --onnx, and stays as it was', async () => {
    const d = path.join(dir, 'protected');
    mkdirSync(d);
    const ck = path.join(d, 'm.safetensors');
    const t = await cli(['train', ...TINY, '--out', ck]);
    expect(t.code, t.stderr).toBe(0);
    const bytes = readFileSync(ck);
    chmodSync(ck, 0o444);
    const again = await cli(['train', ...TINY, '--out', ck]);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`deeprnn: error: checkpoint path ${ck} is read-only (mode 444): a file protected against writing is not replaced; `
      + 'make it writable (chmod u+w) or give another path\n');
    const resume = await cli(['train', '--resume', ck, '--epochs', '2']);
    expect(resume.code).toBe(2);
    expect(resume.stderr).toContain(`${ck} is read-only (mode 444)`);
    expect(readFileSync(ck).equals(bytes)).toBe(true);
    expect(statSync(ck).mode & 0o777).toBe(0o444);
    const onnx = path.join(d, 'm.onnx');
    writeFileSync(onnx, 'kept');
    chmodSync(onnx, 0o400);
    const e = await cli(['export', ck, '--onnx', onnx]);
    expect(e.code).toBe(2);
    expect(e.stderr).toBe(`deeprnn: error: --onnx ${onnx} is read-only (mode 400): a file protected against writing is not replaced; `
      + 'make it writable (chmod u+w) or give another path\n');
    expect(readFileSync(onnx, 'utf8')).toBe('kept');
  });

  it('the check that a missing directory can be made leaves none behind, and the write makes it', async () => {
    const own = path.join(dir, 'made-later');
    mkdirSync(own);
    const ck = path.join(own, 'm.safetensors');
    expect((await cli(['train', ...TINY, '--out', ck])).code).toBe(0);
    // eval checks --write-baseline, then fails on the corpus (one token): no directory is left
    const one = path.join(own, 'one.txt');
    writeFileSync(one, 'a');
    const failed = await cli(['eval', ck, '--corpus', one, '--write-baseline', path.join(own, 'made', 'b.json')]);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain('evaluation needs at least 2');
    expect(existsSync(path.join(own, 'made'))).toBe(false);
    const later = path.join(own, 'new', 'deeper', 'e.onnx');
    const ok = await cli(['export', ck, '--onnx', later]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(later)).toBe(true);
  });
});
