// scripts/install.js. Where the package is installed (no tsconfig.build.json):
// the prebuilt addon when it loads, else or on request a build from source,
// never tsc; in a checkout, typescript is needed first. Runs in package layouts
// made in a temporary folder, with a PATH that holds only node, so a build from
// source fails at once and says so (.ci/package-check.mjs builds for real).
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const pkg = path.join(dir, 'pkg');
const bin = path.join(dir, 'bin');
const platform = `${process.platform}-${process.arch}`;
const prebuilt = path.join(pkg, 'prebuilds', platform, 'deeprnn.node');
mkdirSync(path.join(pkg, 'scripts'), { recursive: true });
mkdirSync(bin);
symlinkSync(process.execPath, path.join(bin, 'node'));
copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
copyFileSync(path.join(ROOT, 'scripts', 'install.js'), path.join(pkg, 'scripts', 'install.js'));
symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));

function place(from: string | Buffer | null): void {
  rmSync(prebuilt, { force: true });
  if (from === null) return;
  mkdirSync(path.dirname(prebuilt), { recursive: true });
  if (typeof from === 'string') copyFileSync(from, prebuilt);
  else writeFileSync(prebuilt, from);
}

async function install(env: Record<string, string> = {}) {
  const r = await run(process.execPath, [path.join(pkg, 'scripts', 'install.js')],
    { cwd: pkg, env: { PATH: bin, DEEPRNN_BUILD_FROM_SOURCE: '', npm_config_build_from_source: '', ...env } });
  return { code: r.code, out: r.stdout.trim().split('\n'), err: r.stderr.trim().split('\n') };
}

const rel = path.join('prebuilds', platform, 'deeprnn.node');
const BUILDING = 'deeprnn: building the addon from source with cmake-js (needs cmake and a C++17 compiler) into build/Release';

describe('scripts/install.js', () => {
  it('uses the prebuilt addon when it loads, and builds nothing', async () => {
    place(path.join(ROOT, 'build', 'Release', 'deeprnn.node'));
    const r = await install();
    expect(r.code).toBe(0);
    expect(r.out).toEqual([`deeprnn: using the prebuilt addon ${rel} (DEEPRNN_BUILD_FROM_SOURCE=1 npm rebuild deeprnn builds it from source)`]);
    expect(existsSync(path.join(pkg, 'build'))).toBe(false);
    expect(existsSync(path.join(pkg, 'dist'))).toBe(false);
  });

  it.each([['DEEPRNN_BUILD_FROM_SOURCE', '1'], ['npm_config_build_from_source', 'true']])('builds from source when %s=%s', async (k, v) => {
    const r = await install({ [k]: v });
    expect(r.code).toBe(1);
    expect(r.out).toEqual([BUILDING]);
    expect(r.err.at(-1)).toBe('deeprnn: the build from source failed (see above); it needs cmake and a C++17 compiler on PATH');
  });

  it('builds from source when the prebuilt addon does not load, and says why both failed', async () => {
    place(Buffer.alloc(4096, 'not an addon '));
    const r = await install();
    expect(r.code).toBe(1);
    const why = `the prebuilt addon ${rel} does not load here (${prebuilt}: invalid ELF header)`;
    expect(r.out).toEqual([`deeprnn: ${why}; building it from source`, BUILDING]);
    expect(r.err.at(-1)).toBe(`deeprnn: ${why}, and the build from source failed (see above): install cmake and a C++17 compiler, then run "npm rebuild deeprnn"`);
  });

  it('in a checkout, needs typescript before it builds anything', async () => {
    const checkout = path.join(dir, 'checkout');
    mkdirSync(path.join(checkout, 'scripts'), { recursive: true });
    mkdirSync(path.join(checkout, 'node_modules'));
    copyFileSync(path.join(ROOT, 'package.json'), path.join(checkout, 'package.json'));
    copyFileSync(path.join(ROOT, 'scripts', 'install.js'), path.join(checkout, 'scripts', 'install.js'));
    writeFileSync(path.join(checkout, 'tsconfig.build.json'), '{}');
    const r = await run(process.execPath, [path.join(checkout, 'scripts', 'install.js')], { cwd: checkout, env: { PATH: bin } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe('deeprnn: cannot compile dist/: typescript is not installed (a checkout needs its devDependencies: npm install)');
  });

  it('builds from source when there is no prebuilt addon for the platform', async () => {
    place(null);
    const r = await install();
    expect(r.code).toBe(1);
    expect(r.out).toEqual([`deeprnn: the package has no prebuilt addon for ${platform}; building it from source`, BUILDING]);
    expect(r.err.at(-1)).toBe(`deeprnn: the package has no prebuilt addon for ${platform}, and the build from source failed (see above): `
      + 'install cmake and a C++17 compiler, then run "npm rebuild deeprnn"');
  });
});
