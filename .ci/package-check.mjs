#!/usr/bin/env node
// CI: the package as a user gets it. Packs the repository (npm pack runs
// prepack: dist/ and the prebuilt addon), installs the tarball into a new
// project with --offline and a PATH that holds only node, npm, npx and sh (no
// cmake, no compiler), then trains and predicts through the CLI and through the
// library (the book's pieces by hand, and train(text), model.save and
// RNNLM.load, the saved model read by the CLI too), checks that require() says
// the package is ESM-only, and finally
// builds the addon from source on request (DEEPRNN_BUILD_FROM_SOURCE=1 npm
// rebuild deeprnn, with the full PATH) and runs again. Prints one line per
// check and exits 1 if any failed.
//
// npm install resolves version ranges from full registry documents, which npm
// ci never caches; so the project gets a package-lock.json that pins the
// tarball's dependencies to the versions in the repository's lock, and npm
// takes every one of them from its cache by integrity, as npm ci does.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(path.join(os.tmpdir(), 'deeprnn-package-'));
const app = path.join(work, 'app');
const bin = path.join(work, 'bin');
let failures = 0;

function check(name, ok, detail = '') {
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}${ok || !detail ? '' : `\n${detail.trim().split('\n').slice(-25).map((l) => `    ${l}`).join('\n')}`}`);
  if (!ok) failures++;
  return ok;
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`, stdout: r.stdout ?? '' };
}

/** Where a program is on a PATH, or null. */
function which(name, pathVar) {
  for (const d of pathVar.split(':')) if (d && existsSync(path.join(d, name))) return path.join(d, name);
  return null;
}

// A clean environment: no data directory, addon or build override from outside.
const baseEnv = { ...process.env };
for (const k of Object.keys(baseEnv)) if (/^(DEEPRNN_|npm_)/.test(k)) delete baseEnv[k];

try {
  // 1. Pack.
  const pack = sh('npm', ['pack', '--pack-destination', work, '--json'], { cwd: root, env: baseEnv });
  let tarball = '';
  try {
    tarball = path.join(work, JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')))[0].filename);
  } catch { /* reported below */ }
  if (!check('npm pack (prepack: dist/ and the prebuilt addon)', pack.code === 0 && existsSync(tarball), pack.out)) throw new Error('no tarball');
  const files = sh('tar', ['tzf', tarball]).stdout.split('\n');
  const need = ['package/dist/index.js', 'package/cjs/index.cjs', 'package/data/timemachine.txt', 'package/LICENSE',
    `package/prebuilds/${process.platform}-${process.arch}/deeprnn.node`, 'package/scripts/install.js',
    'package/bench/fma_peak.cc', 'package/bench/torch_bench.py'];
  check('the tarball holds dist/, cjs/, the Time Machine, LICENSE, the prebuilt addon, the install script and what bench runs',
    need.every((f) => files.includes(f)), `missing: ${need.filter((f) => !files.includes(f)).join(', ')}`);
  // README's links into docs/ (the benchmarks' history, the figures) lead somewhere in the installed package too
  const linked = [...readFileSync(path.join(root, 'README.md'), 'utf8').matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => `package/${m[1]}`);
  check('every file README.md links to under docs/ ships', linked.length > 0 && linked.every((f) => files.includes(f)),
    `missing: ${linked.filter((f) => !files.includes(f)).join(', ')}`);
  const extra = files.filter((f) => f === 'package/tsconfig.json' || f.startsWith('package/native/check/') || f.startsWith('package/test/'));
  check('the tarball holds no development files (tsconfig.json, native/check, test/)', extra.length === 0, `shipped: ${extra.join(', ')}`);

  // 2. A project that depends on the tarball, pinned to the repository's lock.
  mkdirSync(app);
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const self = lock.packages[''];
  const spec = `file:${path.relative(app, tarball)}`;
  const packages = {
    '': { name: 'app', version: '1.0.0', dependencies: { deeprnn: spec } },
    'node_modules/deeprnn': {
      version: self.version, resolved: spec,
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      hasInstallScript: true, license: self.license, dependencies: self.dependencies, bin: self.bin, engines: self.engines,
    },
  };
  for (const [key, entry] of Object.entries(lock.packages)) if (key && !entry.dev) packages[key] = entry;
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: { deeprnn: spec } }, null, 2));
  writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));

  // 3. A PATH with node, npm, npx and sh only.
  mkdirSync(bin);
  for (const name of ['node', 'npm', 'npx', 'sh']) {
    const target = which(name, process.env.PATH ?? '');
    if (target) symlinkSync(target, path.join(bin, name));
  }
  const bare = { ...baseEnv, PATH: bin };
  const tools = ['cmake', 'cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'make'].filter((t) => which(t, bin));
  check('no cmake or compiler on the install PATH', tools.length === 0, `found: ${tools.join(', ')}`);

  // 4. Install offline, without a compiler: the prebuilt addon.
  const install = sh('npm', ['install', '--offline', '--foreground-scripts', '--no-audit', '--no-fund'], { cwd: app, env: bare });
  check('npm install --offline of the tarball, with no cmake and no compiler', install.code === 0, install.out);
  check('the install script took the prebuilt addon and built nothing', /deeprnn: using the prebuilt addon prebuilds\//.test(install.out)
    && !existsSync(path.join(app, 'node_modules', 'deeprnn', 'build')), install.out);
  check('typescript and vitest are not installed', !existsSync(path.join(app, 'node_modules', 'typescript'))
    && !existsSync(path.join(app, 'node_modules', 'vitest')));

  // 5. The CLI and the library, with the shipped Time Machine.
  const cliRun = (label) => {
    const model = path.join(app, 'm.safetensors');
    rmSync(model, { force: true });
    const train = sh('npx', ['--offline', 'deeprnn', 'train', '--hidden', '8', '--num-train', '200', '--num-val', '100', '--batch-size', '50',
      '--epochs', '1', '--out', model], { cwd: app, env: bare });
    check(`${label}: npx deeprnn train`, train.code === 0 && /^epoch 1\/1 {2}train ppl /m.test(train.stdout) && existsSync(model), train.out);
    const predict = sh('npx', ['--offline', 'deeprnn', 'predict', 'the time', '--model', model, '--num-preds', '10'], { cwd: app, env: bare });
    check(`${label}: npx deeprnn predict`, predict.code === 0 && /^the time([a-z ]|<unk>){10}\n$/.test(predict.stdout), predict.out);
  };
  cliRun('prebuilt addon');

  writeFileSync(path.join(app, 'lib.mjs'), `import { RNNLM, Rng, TimeMachine, Trainer, SGD, predict, native } from 'deeprnn';
const tm = await TimeMachine.load({ numTrain: 200, numVal: 100, batchSize: 50 });
const rng = new Rng(1);
const model = new RNNLM({ cell: 'gru', vocabSize: tm.tokenizer.vocab.size, hidden: [8], dropout: 0 }, rng);
await new Trainer({ epochs: 1, clip: 1 }).fit(model, tm.data, new SGD(2), rng);
console.log(native().info().simd, JSON.stringify(predict(model, tm.tokenizer, 'it has', 10)));
`);
  const lib = sh('node', ['lib.mjs'], { cwd: app, env: bare });
  check('the library: import from deeprnn, train and predict', lib.code === 0 && /^\w+ "it has[a-z ]{10}"$/.test(lib.stdout.trim()), lib.out);

  // train(text) on a string, model.save, RNNLM.load: the same weights and text, and a file the CLI reads.
  writeFileSync(path.join(app, 'save-load.mjs'), `import { readFileSync } from 'node:fs';
import { generate, RNNLM, train } from 'deeprnn';
const text = readFileSync('node_modules/deeprnn/data/timemachine.txt', 'utf8').slice(0, 30000);
const { model, history } = await train(text, { tokenizer: 'd2l', hidden: 8, numSteps: 16, numTrain: 200, numVal: 100, batchSize: 50, epochs: 1 });
model.save('saved.safetensors');
const loaded = RNNLM.load('saved.safetensors');
console.log(JSON.stringify({
  epochs: history.length,
  sameWeights: loaded.params.length === model.params.length && loaded.params.every((v, i) => v === model.params[i]),
  trained: generate(model, 'the time', { numPreds: 10 }),
  loaded: generate(loaded, 'the time', { numPreds: 10 }),
}));
`);
  const libRun = (label) => {
    rmSync(path.join(app, 'saved.safetensors'), { force: true });
    const r = sh('node', ['save-load.mjs'], { cwd: app, env: bare });
    let j = null;
    try {
      j = JSON.parse(r.stdout);
    } catch { /* reported below */ }
    check(`${label}: the library's train(text), model.save and RNNLM.load keep the weights and the text`, r.code === 0 && j !== null
      && j.epochs === 1 && j.sameWeights === true && /^the time[a-z ]{10}$/.test(j.trained) && j.loaded === j.trained, r.out);
    const predict = sh('npx', ['--offline', 'deeprnn', 'predict', 'the time', '--model', 'saved.safetensors', '--num-preds', '10'], { cwd: app, env: bare });
    check(`${label}: npx deeprnn predict reads the model saved by model.save`, predict.code === 0 && j !== null && predict.stdout === `${j.trained}\n`,
      predict.out);
  };
  libRun('prebuilt addon');

  writeFileSync(path.join(app, 'req.cjs'), "require('deeprnn');\n");
  const req = sh('node', ['req.cjs'], { cwd: app, env: bare });
  check("require('deeprnn') says the package is ESM-only and how to import it", req.code !== 0
    && req.out.includes("Error: deeprnn is an ES module only and cannot be loaded with require(); use import { RNNLM } from 'deeprnn'"), req.out);

  // 5b. npm 11 may skip a dependency's install script (allowScripts not granted,
  // --ignore-scripts): on this platform the prebuilt addon serves all the same.
  const app2 = path.join(work, 'app-no-scripts');
  mkdirSync(app2);
  for (const f of ['package.json', 'package-lock.json']) writeFileSync(path.join(app2, f), readFileSync(path.join(app, f)));
  const spec2 = `file:${path.relative(app2, tarball)}`;
  for (const f of ['package.json', 'package-lock.json']) {
    writeFileSync(path.join(app2, f), readFileSync(path.join(app2, f), 'utf8').replaceAll(JSON.stringify(spec), JSON.stringify(spec2)));
  }
  const noScripts = sh('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app2, env: bare });
  const model2 = path.join(app2, 'm.safetensors');
  const train2 = noScripts.code === 0 ? sh('npx', ['--offline', 'deeprnn', 'train', '--hidden', '8', '--num-train', '200', '--num-val', '100',
    '--batch-size', '50', '--epochs', '1', '--out', model2], { cwd: app2, env: bare }) : noScripts;
  check('installed with its install script skipped (npm --ignore-scripts), the package trains with the prebuilt addon', train2.code === 0
    && existsSync(model2) && !existsSync(path.join(app2, 'node_modules', 'deeprnn', 'build')), `${noScripts.out}\n${train2.out}`);

  // 6. Built from source on request, with the full PATH.
  const rebuild = sh('npm', ['rebuild', 'deeprnn', '--offline', '--foreground-scripts'], { cwd: app, env: { ...baseEnv, DEEPRNN_BUILD_FROM_SOURCE: '1' } });
  check('DEEPRNN_BUILD_FROM_SOURCE=1 npm rebuild deeprnn builds the addon with cmake-js', rebuild.code === 0
    && /building the addon from source with cmake-js/.test(rebuild.out)
    && existsSync(path.join(app, 'node_modules', 'deeprnn', 'build', 'Release', 'deeprnn.node')), rebuild.out);
  cliRun('addon built from source');
  libRun('addon built from source');
} catch (e) {
  check('the package check ran to the end', false, String(e));
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(failures === 0 ? 'package check: all passed' : `package check: ${failures} failed`);
process.exitCode = failures === 0 ? 0 : 1;
