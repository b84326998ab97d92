// The checkpoints deeprnn serve shows: each one's info (a summary of what `deeprnn info
// --json` tells of it, its figures the same) and its ONNX export, made in memory when the page asks
// and kept while the file is unchanged (same inode, size, mtime and ctime:
// a copy that keeps the mtime, cp -p or rsync -a, still changes the ctime). Nothing is
// written to disk.
import { existsSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { hasTrainingState, loadCheckpoint, type Checkpoint } from '../io/checkpoint.js';
import { exportOnnx, ONNX_EXPORTABLE, type OnnxExport } from '../io/onnx.js';
import { paramCount } from '../nn/config.js';
import { bestEpoch } from '../train/metrics.js';

export interface CheckpointInfo {
  name: string;
  bytes: number;
  cell: string;
  layers: number;
  hidden: number[];
  dropout: number;
  vocabSize: number;
  tokenizer: string;
  parameters: number;
  /** Whether ONNX expresses the cell (the playground needs it), and if not, why. */
  onnx: { exportable: true } | { exportable: false; reason: string };
  training: {
    corpus: string[];
    epochsPlanned: number;
    batchSize: number;
    numSteps: number;
    lr: number;
    optimizer: string;
    seed: number;
  } | null;
  history: { epochs: number; bestValPpl: number | null; bestEpoch: number | null; lastTrainPpl: number | null; lastValPpl: number | null } | null;
}

const finite = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : null);

/** The info of a loaded checkpoint, as the page shows it. */
export function checkpointInfo(name: string, bytes: number, ck: Checkpoint): CheckpointInfo {
  const { config } = ck.meta;
  const run = hasTrainingState(ck.meta) ? ck.meta : null;
  const history = run?.history ?? [];
  const best = bestEpoch(history);
  const last = history[history.length - 1];
  return {
    name,
    bytes,
    cell: config.cell,
    layers: config.hidden.length,
    hidden: config.hidden,
    dropout: config.dropout,
    vocabSize: config.vocabSize,
    tokenizer: ck.tokenizer.kind,
    parameters: paramCount(ck.model.table),
    onnx: ONNX_EXPORTABLE.includes(config.cell)
      ? { exportable: true }
      : { exportable: false, reason: `ONNX has no operator for the ${config.cell} cell (it exports ${ONNX_EXPORTABLE.join(', ')})` },
    training: run ? {
      // (files by their names alone: the page, possibly on another machine, needs no path of this one)
      corpus: run.training.corpus.map((c) => c.split(/[\\/]/).pop()!),
      epochsPlanned: run.training.epochs,
      batchSize: run.training.batchSize,
      numSteps: run.training.numSteps,
      lr: run.training.lr,  // the run's rate, as deeprnn info gives it (the optimizer holds the schedule's last)
      optimizer: run.optimizer.kind,
      seed: run.training.seed,
    } : null,
    history: run ? {
      epochs: history.length,
      bestValPpl: finite(best?.valPpl),
      bestEpoch: best?.epoch ?? null,
      lastTrainPpl: finite(last?.trainPpl),
      lastValPpl: finite(last?.valPpl),
    } : null,
  };
}

interface Entry {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  info?: CheckpointInfo;
  onnx?: OnnxExport;
  /** The checkpoint does not load. */
  error?: Error;
  /** It loads, but its export is refused. */
  onnxError?: Error;
}

/**
 * A checkpoint that does not load is remembered while the file is unchanged
 * (not read again per request), but only for what is in the file (an
 * InputError): a failure of the moment (no descriptor left, an I/O error) is
 * tried again on the next request.
 */
function remember(entry: Entry, e: unknown): void {
  if (e instanceof InputError) entry.error = e;
}

/** ONNX exports kept at once (each is the size of its model's weights): the ones asked for last. */
export const ONNX_KEPT = 4;

/** Loaded checkpoints by real path, while unchanged on disk. */
export class Catalog {
  private readonly entries = new Map<string, Entry>();
  /** Files whose export is kept, the one asked for last at the end. */
  private readonly exported: string[] = [];

  /** Forgets the checkpoints no longer on disk (and what was loaded or exported of them). */
  prune(): void {
    for (const file of [...this.entries.keys()]) {
      if (!existsSync(file)) this.entries.delete(file);
    }
    for (let i = this.exported.length - 1; i >= 0; i--) if (!this.entries.has(this.exported[i]!)) this.exported.splice(i, 1);
  }

  /** How many exports are held (for the tests). */
  get exportsHeld(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.onnx) n++;
    return n;
  }

  private entry(file: string): { entry: Entry; ck: () => Checkpoint } {
    const st = statSync(file);
    let entry = this.entries.get(file);
    if (!entry || entry.size !== st.size || entry.mtimeMs !== st.mtimeMs || entry.ctimeMs !== st.ctimeMs || entry.ino !== st.ino) {
      entry = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
      this.entries.set(file, entry);
    }
    const e = entry;
    return { entry: e, ck: () => loadCheckpoint(file) };
  }

  /** The info of the checkpoint at `file` (named `name` on the page); a checkpoint that does not load is its error. */
  info(file: string, name: string): CheckpointInfo {
    const { entry, ck } = this.entry(file);
    if (entry.error) throw entry.error;
    if (!entry.info) {
      try {
        entry.info = checkpointInfo(name, entry.size, ck());
      } catch (e) {
        remember(entry, e);
        throw e;
      }
    }
    // (one file under two names, a link and its target: each asked by its own name; before, the first asked named both)
    return entry.info.name === name ? entry.info : { ...entry.info, name };
  }

  /** The checkpoint's ONNX export (an InputError for a cell ONNX cannot express). */
  onnx(file: string): OnnxExport {
    // (also when no page listens for changes, whose polls prune too)
    this.prune();
    const { entry, ck } = this.entry(file);
    if (entry.error) throw entry.error;
    if (entry.onnxError) throw entry.onnxError;
    if (!entry.onnx) {
      let c: Checkpoint;
      try {
        c = ck();
      } catch (e) {
        remember(entry, e);
        throw e;
      }
      try {
        entry.onnx = exportOnnx(c.model, c.tokenizer);
      } catch (e) {
        // (the export's refusal, a cell ONNX cannot express: the checkpoint's info still answers)
        if (e instanceof InputError) entry.onnxError = e;
        throw e;
      }
    }
    // the one asked for last goes to the end; past ONNX_KEPT, the oldest export is dropped
    const at = this.exported.indexOf(file);
    if (at >= 0) this.exported.splice(at, 1);
    this.exported.push(file);
    while (this.exported.length > ONNX_KEPT) {
      const old = this.entries.get(this.exported.shift()!);
      if (old && old !== entry) delete old.onnx;
    }
    return entry.onnx;
  }
}
