// Limits at their edges: checkpoint headers (the writer refuses, before
// training, what the reader would refuse, with the same bound) and long
// histories (no array is spread into a call, so any length works).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { checkpointHeaderBound, loadTrainingCheckpoint, saveCheckpoint, type CheckpointMeta } from '../../src/io/checkpoint.js';
import { renderPlot } from '../../src/io/plot.js';
import { encodeSafetensors, HeaderTooLargeError, MAX_HEADER } from '../../src/io/safetensors.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';
import { sparkline } from '../../src/train/metrics.js';
import { resumeSettings, runTraining } from '../../src/train/run.js';
import { Trainer, type EpochMetrics } from '../../src/train/trainer.js';
import { DATA_DIR } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();

const epochs = (n: number): EpochMetrics[] => Array.from({ length: n }, (_, i) => ({
  epoch: i + 1, trainLoss: 2, trainPpl: 7 + Math.sin(i), valLoss: 2, valPpl: 8 + Math.cos(i), valAcc: 0.3,
  tokensPerSec: 1e5, seconds: 0.1, skipped: 0, lr: 2, gradNorm: 0.5,
}));

describe('long histories', () => {
  const long = epochs(200_000);

  it('sparkline, the plot and early stopping take 200,000 epochs', () => {
    const line = sparkline(long.map((m) => m.valPpl));
    expect([...line]).toHaveLength(60);
    const svg = renderPlot([{ label: 'long', epochs: long }]);
    expect(svg).toContain('data-points="200000"');
    const t = new Trainer({ epochs: 200_001, clip: 1, earlyStop: 3 });
    for (const m of long) t.history.push(m);
    expect(t.shouldStopEarly()).toBe(true);
  });
});

describe('checkpoint headers', () => {
  it("the encoder refuses a header over the reader's limit, so no such file is written", () => {
    const t = new Map([['a', { shape: [1], data: new Float32Array(1) }]]);
    expect(() => encodeSafetensors(t, { big: 'x'.repeat(MAX_HEADER) })).toThrow(HeaderTooLargeError);
    expect(() => encodeSafetensors(t, { big: 'x'.repeat(MAX_HEADER) }))
      .toThrow(/^its header would be 100000\d{3} bytes, more than the format's limit of 100000000$/);
  });

  it('bounds every checkpoint a run writes: the header after N epochs stays within the bound for N', async () => {
    const out = path.join(dir, 'bound.safetensors');
    await runTraining({
      cell: 'gru', layers: 1, hidden: [6], dropout: 0, epochs: 3, batchSize: 20, numSteps: 8, numTrain: 60, numVal: 20, lr: 1, clip: 1,
      seed: 1, impl: 'native', corpus: ['timemachine'], dataDir: DATA_DIR, out, skipNonFinite: false,
    });
    const ck = loadTrainingCheckpoint(out);
    const header = Number(readFileSync(out).readBigUInt64LE(0));
    const bound = checkpointHeaderBound(ck.model, { ...ck.meta, history: [] }, 3, null, ck.optimizerState);
    console.log(`header ${header} bytes, bound ${bound.total}`);
    expect(bound.total).toBeGreaterThanOrEqual(header);
    expect(bound.total).toBeLessThan(header + 3 * 512 + 2048);
  });

  it('a run whose checkpoints would pass the limit is refused before training, with the sizes', async () => {
    // A checkpoint with a vocabulary of 600,000 tokens of 100 bytes (60 MB of header): readable.
    // Resumed to 100,000 epochs, its history would take the header past the limit.
    const corpus = path.join(dir, 'corpus.txt');
    writeFileSync(corpus, 'some text for the run to read\n'.repeat(20));
    const tokens = Array.from({ length: 600_000 }, (_, i) => `w${String(i).padStart(99, '0')}`);  // words, as the word tokenizer makes them
    tokens[0] = '<unk>';
    const tokenizer = Tokenizer.fromCounts('word', new Map([['x', 1]]));
    const config = { cell: 'rnn' as const, vocabSize: tokens.length, hidden: [1], dropout: 0 };
    const first = path.join(dir, 'first.safetensors');
    await runTraining({
      cell: 'rnn', layers: 1, hidden: [1], dropout: 0, epochs: 1, batchSize: 2, numSteps: 4, numTrain: 10, numVal: 10, lr: 1, clip: 1,
      seed: 1, impl: 'native', corpus: [corpus], tokenizer: 'word', dataDir: DATA_DIR, out: first, skipNonFinite: false,
    });
    const base = loadTrainingCheckpoint(first).meta;
    const meta: CheckpointMeta = { ...base, config, tokenizer: { ...tokenizer.toJSON(), tokens } };
    const big = path.join(dir, 'big.safetensors');
    saveCheckpoint(big, new RNNLM(config, new Rng(1)), meta);
    expect(loadTrainingCheckpoint(big).meta.config.vocabSize).toBe(600_000);
    const out = path.join(dir, 'big2.safetensors');
    await expect(runTraining(resumeSettings(big, { dataDir: DATA_DIR, epochs: 100_000, out }), {}, big)).rejects.toThrow(
      /^checkpoints of this run would need a header of up to [\d,]+ bytes \(the vocabulary of 600,000 tokens takes 6\d,\d{3},\d{3}, the history of 100,000 epochs up to [\d,]+\), more than the 100,000,000 that safetensors allows; use a smaller vocabulary \(--min-freq with --tokenizer word\) or fewer --epochs$/,
    );
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
