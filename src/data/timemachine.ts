// The book's TimeMachine data module in one call: the corpus (the copy shipped
// in data/, its sha1 verified), the d2l tokenizer, and the window batches.
import { DATA_OPTIONS, makeDataModule, type DataModule, type DataOptions } from './datamodule.js';
import { InputError } from '../errors.js';
import { describe, refuseUnknownKeys } from '../validate.js';
import { loadCorpusTokens } from './load.js';
import type { Tokenizer } from './tokenizer.js';

export interface TimeMachineOptions extends Partial<DataOptions> {
  /**
   * Where to look for the corpus if the package's copy is missing (default:
   * $DEEPRNN_DATA_DIR or the user cache); it is never needed otherwise.
   */
  dataDir?: string;
}

export class TimeMachine {
  private constructor(
    readonly tokenizer: Tokenizer,
    readonly tokens: Uint16Array | Int32Array,
    readonly data: DataModule,
  ) {}

  /** The book's defaults: 32 steps, 10,000 / 5,000 windows, batch 1024. */
  static async load(opts: TimeMachineOptions | null = {}): Promise<TimeMachine> {
    // null, the options or one of them, is left out, as for train(); a typo is named (before, batchsize: 10 ran with 1024)
    opts ??= {};
    if (typeof opts !== 'object' || Array.isArray(opts)) throw new InputError(`TimeMachine.load(opts): opts must be an object, got ${describe(opts)}`);
    // (a Map refused before its entries, no keys, are dropped: before, its options were not read)
    refuseUnknownKeys(opts, [...DATA_OPTIONS, 'dataDir'], 'TimeMachine.load(opts)');
    opts = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== null)) as TimeMachineOptions;
    const { tokenizer, tokens } = await loadCorpusTokens(['timemachine'], { dataDir: opts.dataDir, kind: 'd2l' });
    const data = makeDataModule(tokens, {
      numSteps: opts.numSteps ?? 32,
      numTrain: opts.numTrain ?? 10_000,
      numVal: opts.numVal ?? 5_000,
      batchSize: opts.batchSize ?? 1024,
      valFrac: opts.valFrac,
      batching: opts.batching,
    });
    return new TimeMachine(tokenizer, tokens, data);
  }
}
