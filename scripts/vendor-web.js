// Copies the parts of ONNX Runtime Web that deeprnn serve's page loads (the
// WASM-only ES module bundle and its binary) into vendor/onnxruntime-web/, so
// that a packed deeprnn serves its playground without onnxruntime-web
// installed (a devDependency of 139 MB, of which the page needs 14). Run by
// scripts/prepack.js; in a checkout, deeprnn serve reads node_modules instead.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The files the page loads; src/serve/assets.ts (ORT_FILES) names the same. */
export const ORT_FILES = ['ort.wasm.bundle.min.mjs', 'ort-wasm-simd-threaded.wasm'];

const MIT = (holder) => `MIT License

Copyright (c) ${holder}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;

/** Copies the files from the installed onnxruntime-web into ROOT/vendor/onnxruntime-web; returns what it wrote. */
export function vendorWeb(root) {
  const require = createRequire(path.join(root, 'package.json'));
  const dist = path.dirname(require.resolve('onnxruntime-web'));
  const pkg = JSON.parse(readFileSync(path.join(dist, '..', 'package.json'), 'utf8'));
  const dest = path.join(root, 'vendor', 'onnxruntime-web');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  for (const f of ORT_FILES) copyFileSync(path.join(dist, f), path.join(dest, f));
  writeFileSync(path.join(dest, 'LICENSE'), `onnxruntime-web ${pkg.version} (${pkg.license}): ${ORT_FILES.join(', ')}\n\n${MIT('Microsoft Corporation')}`);
  return { version: pkg.version, dir: dest };
}
