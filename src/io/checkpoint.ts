// Checkpoints: weights as safetensors with PyTorch's names; configuration,
// tokenizer, training settings, optimizer and RNG state and per-epoch history
// as one JSON string in the safetensors __metadata__ under "deeprnn".
import { existsSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { tokenizerFromJSON, type Tokenizer, type TokenizerJSON } from '../data/tokenizer.js';
import { CELLS, paramTable, type ModelConfig } from '../nn/config.js';
import type { FloatArray, Module } from '../nn/module.js';
import { RNNLM } from '../nn/rnnlm.js';
import type { RngState } from '../rng.js';
import type { EpochMetrics } from '../train/trainer.js';
import { encodeSafetensors, readSafetensors, writeFileAtomic, type Tensor } from './safetensors.js';

export const FORMAT_VERSION = 1;

export interface TrainingSettings {
  corpus: string;
  epochs: number;
  batchSize: number;
  numSteps: number;
  numTrain: number;
  numVal: number;
  lr: number;
  clip: number;
  seed: number;
  impl: 'native' | 'scratch';
}

export interface CheckpointMeta {
  version: number;
  config: ModelConfig;
  tokenizer: TokenizerJSON;
  training: TrainingSettings;
  optimizer: Record<string, unknown>;
  /** Generator state after the last completed epoch. */
  rng: RngState;
  history: EpochMetrics[];
}

export interface Checkpoint {
  meta: CheckpointMeta;
  model: RNNLM;
  tokenizer: Tokenizer;
}

export function saveCheckpoint(file: string, model: Module<FloatArray>, meta: CheckpointMeta): void {
  const tensors = new Map<string, Tensor>();
  for (const p of model.parameters()) {
    tensors.set(p.name, { shape: p.shape, data: p.data instanceof Float32Array ? p.data : Float32Array.from(p.data) });
  }
  const buf = encodeSafetensors(tensors, { format: 'pt', deeprnn: JSON.stringify(meta) });
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomic(file, buf);
}

/** Reads a checkpoint into a native RNNLM; every inconsistency is an Error naming the file. */
export function loadCheckpoint(file: string): Checkpoint {
  if (!existsSync(file)) throw new Error(`checkpoint ${file} does not exist (train one with "deeprnn train --out ${file}")`);
  const st = readSafetensors(file);
  const fail = (what: string) => new Error(`checkpoint ${file}: ${what}`);
  const raw = st.metadata.deeprnn;
  if (raw === undefined) throw fail('no "deeprnn" metadata: not a deeprnn checkpoint');
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(raw) as CheckpointMeta;
  } catch {
    throw fail('the "deeprnn" metadata is not JSON');
  }
  if (!meta || typeof meta !== 'object') throw fail('the "deeprnn" metadata is not an object');
  if (!Number.isInteger(meta.version) || meta.version < 1) throw fail(`format version ${JSON.stringify(meta.version)} is invalid`);
  if (meta.version > FORMAT_VERSION) {
    throw fail(`format version ${meta.version} is newer than this deeprnn reads (${FORMAT_VERSION}); upgrade deeprnn`);
  }
  const config = checkConfig(meta.config, fail);
  let tokenizer: Tokenizer;
  try {
    tokenizer = tokenizerFromJSON(meta.tokenizer);
  } catch (e) {
    throw fail((e as Error).message);
  }
  if (tokenizer.vocab.size !== config.vocabSize) {
    throw fail(`the tokenizer has ${tokenizer.vocab.size} tokens but the model's vocabSize is ${config.vocabSize}`);
  }
  const table = paramTable(config);
  const names = new Set(table.map((p) => p.name));
  for (const name of st.tensors.keys()) if (!names.has(name)) throw fail(`unexpected tensor "${name}"`);
  const model = new RNNLM(config);
  for (const p of table) {
    const t = st.tensors.get(p.name);
    if (!t) throw fail(`tensor "${p.name}" is missing`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw fail(`tensor "${p.name}" has shape [${t.shape.join(', ')}], expected [${p.shape.join(', ')}]`);
    }
    model.params.set(t.data, p.offset);
  }
  return { meta: { ...meta, config }, model, tokenizer };
}

function checkConfig(c: unknown, fail: (what: string) => Error): ModelConfig {
  const cfg = c as Partial<ModelConfig> | null;
  if (!cfg || typeof cfg !== 'object') throw fail('no model config');
  if (!CELLS.includes(cfg.cell as never)) throw fail(`cell ${JSON.stringify(cfg.cell)} is not one of ${CELLS.join(', ')}`);
  if (!Number.isInteger(cfg.vocabSize) || cfg.vocabSize! < 2) throw fail(`vocabSize ${JSON.stringify(cfg.vocabSize)} is invalid`);
  if (!Array.isArray(cfg.hidden) || cfg.hidden.length < 1 || !cfg.hidden.every((h) => Number.isInteger(h) && h >= 1)) {
    throw fail(`hidden ${JSON.stringify(cfg.hidden)} must be a non-empty list of positive integers`);
  }
  if (typeof cfg.dropout !== 'number' || !(cfg.dropout >= 0 && cfg.dropout < 1)) throw fail(`dropout ${JSON.stringify(cfg.dropout)} is invalid`);
  return { cell: cfg.cell!, vocabSize: cfg.vocabSize!, hidden: cfg.hidden, dropout: cfg.dropout };
}
