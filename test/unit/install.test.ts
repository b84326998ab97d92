// scripts/install.js. Where the package is installed (no tsconfig.build.json):
// the prebuilt addon when it loads, else or on request a build from source,
// never tsc; in a checkout, typescript is needed first. Runs in package layouts
// made in a temporary folder, with a PATH that holds only node, so a build from
// source fails at once and says so (.ci/package-check.mjs builds for real).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

  // The package loads build/Release before the prebuilt addon (src/native.ts addonCandidates).
  const builtRel = path.join('build', 'Release', 'deeprnn.node');
  const built = path.join(pkg, builtRel);
  /** Runs the install with `from` as a build from source in build/Release (the prebuilt as place() left it); build/ removed after. */
  async function withBuilt(from: string | Buffer, env: Record<string, string> = {}) {
    mkdirSync(path.dirname(built), { recursive: true });
    if (typeof from === 'string') copyFileSync(from, built);
    else writeFileSync(built, from);
    try {
      const r = await install(env);
      return { ...r, builtThere: existsSync(built), failed: existsSync(`${built}.failed`) ? readFileSync(`${built}.failed`) : null };
    } finally {
      rmSync(path.join(pkg, 'build'), { recursive: true, force: true });
    }
  }
  const USING_BUILT = `deeprnn: using the addon built from source ${builtRel} (it is loaded before any prebuilt one; remove it to use the prebuilt)`;

  it('names an earlier build from source that loads, which the package uses before the prebuilt addon', async () => {
    place(Buffer.alloc(4096, 'not an addon '));
    const r = await withBuilt(path.join(ROOT, 'build', 'Release', 'deeprnn.node'));
    expect(r.code).toBe(0);
    expect(r.out).toEqual([USING_BUILT]);
    expect(r.builtThere).toBe(true);
  });

  it('moves aside an earlier build from source that the loader refuses, so that it does not hide the prebuilt addon', async () => {
    place(path.join(ROOT, 'build', 'Release', 'deeprnn.node'));
    const r = await withBuilt(Buffer.alloc(4096, 'not an addon '));
    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      `deeprnn: moved ${builtRel}, an earlier build from source that does not load here (${built}: invalid ELF header), to ${builtRel}.failed`,
      `deeprnn: using the prebuilt addon ${rel} (DEEPRNN_BUILD_FROM_SOURCE=1 npm rebuild deeprnn builds it from source)`,
    ]);
    expect(r.builtThere).toBe(false);
    expect(r.failed).toEqual(Buffer.alloc(4096, 'not an addon '));
  });

  it("checks an addon without deeprnn's settings: a bad DEEPRNN_GEMM_TILE is no reason to set a working build aside", async () => {
    place(Buffer.alloc(4096, 'not an addon '));
    const r = await withBuilt(path.join(ROOT, 'build', 'Release', 'deeprnn.node'),
      { DEEPRNN_GEMM_TILE: 'bogus', DEEPRNN_SIMD: 'nope', OMP_NUM_THREADS: 'x', NODE_OPTIONS: '--no-addons' });
    expect(r.code).toBe(0);
    expect(r.out).toEqual([USING_BUILT]);
    expect(r.builtThere).toBe(true);
    expect(r.failed).toBeNull();
  });

  it('says why a prebuilt addon whose load kills the process does not load (a signal, not "exit code null")', async () => {
    // A file cut short (a partial download): the loader maps more than the file holds.
    const whole = readFileSync(path.join(ROOT, 'build', 'Release', 'deeprnn.node'));
    place(whole.subarray(0, 1000));
    const r = await install();
    expect(r.code).toBe(1);
    const why = /^deeprnn: the prebuilt addon \S+ does not load here \((.+)\); building it from source$/.exec(r.out[0]!);
    expect(why, r.out[0]).not.toBeNull();
    expect(why![1]).not.toMatch(/exit code|null/);
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

describe('what the addon asks of the system', () => {
  // README ("Installing the package"): the prebuilt addon (a copy of this build) needs glibc
  // 2.27, GCC 5's C++ runtime. Before, it asked for glibc 2.34 (dlopen, dlsym, dlerror,
  // dlinfo), 2.29 (log) and GCC 7's runtime (CXXABI_1.3.11, the aligned operator new[]).
  const objdump = spawnSync('objdump', ['--version']).status === 0;
  it.skipIf(platform !== 'linux-x64' || !objdump)('the built addon needs no symbol version above GLIBC_2.27, GLIBCXX_3.4.21 and CXXABI_1.3.9', () => {
    const addon = path.join(ROOT, 'build', 'Release', 'deeprnn.node');
    const out = execFileSync('objdump', ['-T', addon], { encoding: 'utf8' });
    const newest = new Map<string, number[]>();
    for (const m of out.matchAll(/\*UND\*\s+\S+\s+\(?(GLIBC|GLIBCXX|CXXABI)_([\d.]+)\)?\s+(\S+)/g)) {
      const v = m[2]!.split('.').map(Number);
      const old = newest.get(m[1]!);
      if (!old || compare(v, old) > 0) newest.set(m[1]!, v);
    }
    expect(newest.get('GLIBC')).toBeDefined();
    const limits: Record<string, number[]> = { GLIBC: [2, 27], GLIBCXX: [3, 4, 21], CXXABI: [1, 3, 9] };
    for (const [lib, v] of newest) expect(compare(v, limits[lib]!), `${lib}_${v.join('.')}`).toBeLessThanOrEqual(0);
  });
});

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
