import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The shared corpora beside the project (never committed to it). */
export const SHARED_DATA = process.env.DEEPRNN_TEST_DATA_DIR ?? path.resolve(ROOT, '..', 'shared', 'data');
export const BIN = path.join(ROOT, 'bin', 'deeprnn.js');
