// deeprnn is ESM-only: require('deeprnn') throws a message that says how to
// import it, and the types for require say the same; import works in both.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const MESSAGE = "deeprnn is an ES module only and cannot be loaded with require(); use import { RNNLM } from 'deeprnn' "
  + "in an ES module (.mjs, or \"type\": \"module\" in package.json), or const deeprnn = await import('deeprnn') from CommonJS";

const dir = tmpDir();
mkdirSync(path.join(dir, 'node_modules'));
symlinkSync(ROOT, path.join(dir, 'node_modules', 'deeprnn'));
for (const m of ['onnxruntime-node', 'onnxruntime-common']) symlinkSync(path.join(ROOT, 'node_modules', m), path.join(dir, 'node_modules', m));
mkdirSync(path.join(dir, 'node_modules', '@types'));
symlinkSync(path.join(ROOT, 'node_modules', '@types', 'node'), path.join(dir, 'node_modules', '@types', 'node'));

const tsc = (project: string) => run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: dir });

describe('CommonJS', () => {
  it("require('deeprnn') says the package is ESM-only and how to import it; await import works", async () => {
    writeFileSync(path.join(dir, 'req.cjs'), "try { require('deeprnn'); } catch (e) { console.log(e.message); }\n"
      + "import('deeprnn').then((m) => console.log(typeof m.RNNLM, typeof m.TimeMachine.load));\n");
    const r = await run(process.execPath, [path.join(dir, 'req.cjs')], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${MESSAGE}\nfunction function\n`);
  });

  it('the types refuse what require gives and accept import', async () => {
    writeFileSync(path.join(dir, 'a.cts'), "import deeprnn = require('deeprnn');\nexport const x = deeprnn.RNNLM;\n");
    writeFileSync(path.join(dir, 'b.cts'), "export async function f() { const m = await import('deeprnn'); return new m.Rng(1); }\n");
    writeFileSync(path.join(dir, 'c.mts'), "import { Rng } from 'deeprnn';\nexport const r = new Rng(1);\n");
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['a.cts', 'b.cts', 'c.mts'],
    }));
    const r = await tsc(dir);
    expect(r.stdout.trim()).toBe("a.cts(2,26): error TS2339: Property 'RNNLM' does not exist on type 'never'.");
    expect(r.code).toBe(2);
  });

  it('the declarations compile in the strictest consumer: skipLibCheck off, exactOptionalPropertyTypes on', async () => {
    // (before, datamodule.d.ts failed there: WindowBatch's windows getter, BatchWindows | undefined, against Batch's windows?)
    const sub = path.join(dir, 'strictest');
    mkdirSync(sub);
    writeFileSync(path.join(sub, 'use.mts'), "import { RNNLM, Rng, TimeMachine, train, generate, type TrainOptions } from 'deeprnn';\n"
      + 'export const o: TrainOptions = { epochs: 1 };\nexport const all = [RNNLM, Rng, TimeMachine, train, generate];\n');
    writeFileSync(path.join(sub, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false,
        exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, types: ['node'] },
      files: ['use.mts'],
    }));
    const r = await tsc(sub);
    expect(r.stdout.trim()).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);

  // OnnxStepper takes onnxruntime-node's InferenceSession as it is (its run has
  // overloads: an OrtSession whose fetches were optional matched none of them).
  it("README's decoding with ONNX Runtime compiles as written, without a cast", async () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    // The indented code block (blank lines within it included) around the line that makes the stepper.
    const lines = readme.split('\n');
    const at = lines.findIndex((l) => l.includes('new OnnxStepper(session'));
    expect(at).toBeGreaterThan(0);
    const inBlock = (l: string | undefined) => l !== undefined && (l.startsWith('    ') || l === '');
    let a = at, b = at;
    while (inBlock(lines[a - 1])) a--;
    while (inBlock(lines[b + 1])) b++;
    const code = lines.slice(a, b + 1).map((l) => l.slice(4)).join('\n');
    expect(code).toContain("import * as ort from 'onnxruntime-node';");
    const sub = path.join(dir, 'onnx');
    mkdirSync(sub);
    writeFileSync(path.join(sub, 'decode.mts'), `${code}\nexport {};\n`);
    writeFileSync(path.join(sub, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: ['node'] },
      files: ['decode.mts'],
    }));
    const r = await tsc(sub);
    expect(r.stdout.trim()).toBe('');
    expect(r.code).toBe(0);
  });
});
