#!/usr/bin/env node
// npm's install script for deeprnn.
//
// - In a development tree (a git checkout: tsconfig.build.json is there, and the
//   package never ships it), build everything as `npm run build` does: the addon
//   with cmake-js into build/Release, then dist/ with tsc.
// - Where the package is installed, never run tsc (dist/ ships). Use the
//   prebuilt addon for this platform when the package has one and it loads here;
//   otherwise, or when asked (DEEPRNN_BUILD_FROM_SOURCE=1, or npm's
//   --build-from-source, which npm passes on as npm_config_build_from_source),
//   build the addon from source with cmake-js (needs cmake and a C++17 compiler).
//   The package loads build/Release before the prebuilt addon: an earlier build
//   from source that loads is kept and named; one that the loader refuses is
//   moved aside (to *.failed), so that it does not hide the prebuilt one.
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const platform = `${process.platform}-${process.arch}`;
const prebuilt = path.join('prebuilds', platform, 'deeprnn.node');
const built = path.join('build', 'Release', 'deeprnn.node');

function say(msg) {
  console.log(`deeprnn: ${msg}`);
}

/** Runs a node script (a tool's bin file) in the package root; true when it succeeded. */
function node(script, args) {
  const r = spawnSync(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
  if (r.error) console.error(`deeprnn: cannot run ${script}: ${r.error.message}`);
  return r.status === 0;
}

function buildAddon() {
  let cmakeJs;
  try {
    cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  } catch {
    console.error('deeprnn: cannot build the addon from source: cmake-js is not installed (npm install cmake-js)');
    return false;
  }
  say(`building the addon from source with cmake-js (needs cmake and a C++17 compiler) into build/Release`);
  return node(cmakeJs, ['compile', '--out', 'build']);
}

/**
 * Whether an addon loads in a fresh process: null when it does, else the first
 * line of the reason; `certain` when the file itself is at fault (the loader
 * refused it), not the moment (a process that could not start, or was killed).
 * The check sees none of deeprnn's or OpenMP's settings: a bad DEEPRNN_SIMD is
 * the environment's fault, not the file's.
 */
function loadError(file) {
  // (NODE_OPTIONS too: --no-addons there would make every addon look broken)
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DEEPRNN_|OMP_|NODE_OPTIONS$)/.test(k)));
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', path.join(root, file)], { encoding: 'utf8', env });
  if (r.status === 0) return null;
  if (r.error) return { reason: `the check could not run: ${r.error.message}`, certain: false };
  const lines = `${r.stderr}`.split('\n').filter((l) => /Error|error:/.test(l));
  const reason = (lines[0] ?? (r.signal ? `the process was killed by ${r.signal}` : `exit code ${r.status}`)).replace(/^\s*(Error: )?/, '');
  // The file's fault: the loader's refusals, or a crash as it loads (code for another CPU, a file cut short);
  // a process killed from outside, or one that failed otherwise, says nothing of the file.
  const refused = /ERR_DLOPEN_FAILED|NODE_MODULE_VERSION|did not self-register|invalid ELF header|wrong ELF class|file too short|cannot open shared object|undefined symbol|version `[^']+' not found/;
  const certain = r.signal ? ['SIGILL', 'SIGSEGV', 'SIGBUS'].includes(r.signal) : refused.test(`${r.stderr}`);
  return { reason, certain };
}

function truthy(v) {
  return v !== undefined && /^(1|true|yes|on)$/i.test(v);
}

function main() {
  if (existsSync(path.join(root, 'tsconfig.build.json'))) {
    let tsc;
    try {
      tsc = require.resolve('typescript/bin/tsc');
    } catch {
      console.error('deeprnn: cannot compile dist/: typescript is not installed (a checkout needs its devDependencies: npm install)');
      return 1;
    }
    if (!buildAddon()) return 1;
    return node(tsc, ['-p', 'tsconfig.build.json']) ? 0 : 1;
  }
  const asked = truthy(process.env.DEEPRNN_BUILD_FROM_SOURCE) || truthy(process.env.npm_config_build_from_source);
  if (asked) {
    if (buildAddon()) return 0;
    console.error('deeprnn: the build from source failed (see above); it needs cmake and a C++17 compiler on PATH');
    return 1;
  }
  if (existsSync(path.join(root, built))) {
    const err = loadError(built);
    if (err === null) {
      say(`using the addon built from source ${built} (it is loaded before any prebuilt one; remove it to use the prebuilt)`);
      return 0;
    }
    if (!err.certain) {
      // (the install goes on: the package says at first use if it does not load, and how to rebuild)
      console.error(`deeprnn: warning: could not check the addon built from source ${built} (${err.reason}); it is left as it is `
        + '(remove it, or DEEPRNN_BUILD_FROM_SOURCE=1 npm rebuild deeprnn, if it does not load)');
      return 0;
    }
    // moved aside, not deleted: the user's build, should they want it back
    renameSync(path.join(root, built), path.join(root, `${built}.failed`));
    say(`moved ${built}, an earlier build from source that does not load here (${err.reason}), to ${built}.failed`);
  }
  let why = `the package has no prebuilt addon for ${platform}`;
  if (existsSync(path.join(root, prebuilt))) {
    const err = loadError(prebuilt);
    if (err === null) {
      say(`using the prebuilt addon ${prebuilt} (DEEPRNN_BUILD_FROM_SOURCE=1 npm rebuild deeprnn builds it from source)`);
      return 0;
    }
    why = `the prebuilt addon ${prebuilt} does not load here (${err.reason})`;
  }
  say(`${why}; building it from source`);
  if (buildAddon()) return 0;
  console.error(`deeprnn: ${why}, and the build from source failed (see above): install cmake and a C++17 compiler, `
    + 'then run "npm rebuild deeprnn"');
  return 1;
}

process.exitCode = main();
