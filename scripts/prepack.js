#!/usr/bin/env node
// npm's prepack script: before `npm pack` / `npm publish`, compile dist/ from
// src/ and put the addon of the normal build (build/Release, made by `npm ci`)
// into prebuilds/<platform>-<arch>/, where an installed package loads it from
// without a compiler. One x86-64 build serves every x86-64 CPU: the kernels for
// AVX2 and AVX-512 are compiled into it and chosen at run time by cpuid.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { vendorWeb } from './vendor-web.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'build', 'Release', 'deeprnn.node');
const dest = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'deeprnn.node');

function fail(msg) {
  console.error(`deeprnn prepack: ${msg}`);
  process.exit(1);
}

const tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
if (spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' }).status !== 0) {
  fail('tsc -p tsconfig.build.json failed');
}
if (!existsSync(built)) fail(`${built} is missing; build it first with "npm run build:native"`);
// The build must load here.
const check = spawnSync(process.execPath, ['-e', 'require(process.argv[1]).info()', built], { encoding: 'utf8' });
if (check.status !== 0) fail(`${built} does not load: ${check.stderr.trim().split('\n').find((l) => /Error/.test(l)) ?? check.status}`);
mkdirSync(path.dirname(dest), { recursive: true });
copyFileSync(built, dest);
console.log(`deeprnn prepack: ${path.relative(root, built)} -> ${path.relative(root, dest)}`);
// deeprnn serve's playground runtime, so that the package serves it without onnxruntime-web installed.
const web = vendorWeb(root);
console.log(`deeprnn prepack: onnxruntime-web ${web.version} -> ${path.relative(root, web.dir)}`);
