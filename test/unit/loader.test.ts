// Where the addon is loaded from: DEEPRNN_ADDON, else build/Release, else the
// prebuilt addon for this platform; and what is said when none of them loads.
// Runs the built dist/native.js (and the thread choice it imports) from a package
// layout made in a temporary folder.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const built = path.join(ROOT, 'build', 'Release', 'deeprnn.node');
const pkg = path.join(tmpDir(), 'pkg');
const release = path.join(pkg, 'build', 'Release', 'deeprnn.node');
const prebuilt = path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, 'deeprnn.node');
mkdirSync(path.join(pkg, 'dist'), { recursive: true });
writeFileSync(path.join(pkg, 'package.json'), '{"type": "module"}\n');
for (const f of ['native.js', 'threads.js']) copyFileSync(path.join(ROOT, 'dist', f), path.join(pkg, 'dist', f));

function place(file: string, from: string | Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  if (typeof from === 'string') copyFileSync(from, file);
  else writeFileSync(file, from);
}

/** addonFile() before loading, and what native().info() gives or throws. */
async function load(env: Record<string, string> = {}) {
  const code = `const m = await import(${JSON.stringify(path.join(pkg, 'dist', 'native.js'))});
const before = m.addonFile();
try { console.log(JSON.stringify({ before, simd: m.native().info().simd, after: m.addonFile() })); }
catch (e) { console.log(JSON.stringify({ before, error: e.message })); }`;
  const r = await run(process.execPath, ['--input-type=module', '-e', code], { env: { DEEPRNN_ADDON: '', ...env } });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as { before: string; simd?: string; after?: string; error?: string };
}

describe('the addon loader', () => {
  it('says how to build the addon when there is none', async () => {
    expect((await load()).error).toBe(
      `deeprnn: the native addon is missing: neither ${release} nor a prebuilt ${prebuilt} exists; build it with "npm run build:native" `
      + 'in a checkout, or "DEEPRNN_BUILD_FROM_SOURCE=1 npm rebuild deeprnn" where deeprnn is installed (needs cmake and a C++17 compiler; '
      + 'where npm skipped deeprnn\'s install script, allow it first: "npm approve-scripts deeprnn", or for a global install '
      + '"npm install -g deeprnn --allow-scripts=deeprnn")',
    );
  });

  it('loads the prebuilt addon when there is no build from source', async () => {
    place(prebuilt, built);
    const r = await load();
    expect(r).toMatchObject({ before: prebuilt, after: prebuilt });
    expect(r.simd).toMatch(/^(scalar|avx2|avx512|neon)$/);
  });

  it('prefers build/Release to the prebuilt addon', async () => {
    place(prebuilt, Buffer.alloc(4096, 'not an addon '));
    place(release, built);
    expect(await load()).toMatchObject({ before: release, after: release });
    rmSync(release);
  });

  it('names an addon that does not load and says how to rebuild it', async () => {
    const r = await load();
    expect(r.error).toMatch(new RegExp(`^deeprnn: the native addon ${prebuilt} does not load \\(.*invalid ELF header\\); rebuild it for this machine `
      + 'with "DEEPRNN_BUILD_FROM_SOURCE=1 npm rebuild deeprnn" where deeprnn is installed, or "npm run build:native" in a checkout '
      + '\\(needs cmake and a C\\+\\+17 compiler; where npm skipped deeprnn\'s install script, allow it first: '
      + '"npm approve-scripts deeprnn", or for a global install "npm install -g deeprnn --allow-scripts=deeprnn"\\)$'));
  });

  it('loads only DEEPRNN_ADDON when it is set', async () => {
    const gone = path.join(pkg, 'nowhere', 'deeprnn.node');
    place(release, built);
    expect((await load({ DEEPRNN_ADDON: gone })).error).toBe(
      `deeprnn: the native addon is missing at ${gone} (named by DEEPRNN_ADDON); build it there or unset DEEPRNN_ADDON`,
    );
    expect(await load({ DEEPRNN_ADDON: built })).toMatchObject({ before: built, after: built });
  });
});
