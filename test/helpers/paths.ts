import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'deeprnn.js');
/** The Time Machine as the package ships it. */
export const TIMEMACHINE = path.join(ROOT, 'data', 'timemachine.txt');

/**
 * Where tests find corpora that do not ship (tiny Shakespeare), and the data
 * directory the CLI tests run with: $DEEPRNN_TEST_DATA_DIR, else
 * $DEEPRNN_DATA_DIR, else ../shared/data beside the project when it is there,
 * else a folder that does not exist. Tests never download.
 */
export const DATA_DIR = process.env.DEEPRNN_TEST_DATA_DIR || process.env.DEEPRNN_DATA_DIR
  || [path.resolve(ROOT, '..', 'shared', 'data')].find((d) => existsSync(d))
  || path.join(os.tmpdir(), 'deeprnn-test-no-data');

/** Tests whose names hold this need tiny Shakespeare; `.ci/run` runs them again with ../shared/data. */
export const NEEDS_SHAKESPEARE = '(needs tinyshakespeare)';
export const SHAKESPEARE = path.join(DATA_DIR, 'tinyshakespeare.txt');
export const HAS_SHAKESPEARE = existsSync(SHAKESPEARE);

/** Says once per file why its tiny Shakespeare tests are skipped. */
export function noteShakespeare(file: string): void {
  if (!HAS_SHAKESPEARE) {
    console.log(`${path.relative(ROOT, fileURLToPath(file))}: skipping the tests marked ${NEEDS_SHAKESPEARE}: `
      + `${SHAKESPEARE} is missing (set DEEPRNN_TEST_DATA_DIR or DEEPRNN_DATA_DIR to a folder that holds tinyshakespeare.txt)`);
  }
}
