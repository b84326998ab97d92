// deeprnn predict PREFIX: the book's greedy continuation from a checkpoint, or
// samples with temperature, top-k and top-p; text streams to stdout.
import { fstatSync } from 'node:fs';
import type { Command } from 'commander';
import { asTrainingRead } from '../data/tokenizer.js';
import { checkSampling, generate, MAX_PREDS } from '../generate.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { native } from '../native.js';
import { refuseOverwrite } from '../io/files.js';
import { Rng } from '../rng.js';
import { OutputClosed, RecordStream, warn, write } from './output.js';
import { DEFAULT_CHECKPOINT } from './defaults.js';
import { UsageError } from './errors.js';
import { addOptions, cliNaming, formatOptions, intOption, option, outputFormat, precisionOption, threadsOption } from './options.js';

interface RawPredictOptions {
  model: string;
  numPreds: string | number;
  temperature: string | number;
  topK?: string;
  topP?: string;
  seed: string | number;
  samples: string | number;
  strict?: boolean;
  precision?: string;
  threads?: string;
}

/** A sample as --json lists it. */
interface SampleRecord {
  sample: number;
  text: string;
}

export function registerPredict(program: Command): void {
  const command = program
    .command('predict')
    .description('print PREFIX followed by predicted tokens (greedy as the book, or sampled)')
    .argument('<prefix>', 'text to warm the model up on ("" starts from the model\'s first-step distribution)')
    .addOption(option('--model <path>', 'checkpoint to read', DEFAULT_CHECKPOINT))
    .addOption(option('--num-preds <n>', 'tokens to predict', 20))
    .addOption(option('--temperature <t>', '0: greedy (the argmax); above 0: sample from softmax(logits / t)', 0))
    .addOption(option('--top-k <k>', 'sample among the k most likely tokens (needs --temperature above 0)'))
    .addOption(option('--top-p <p>', 'sample among the most likely tokens whose probabilities reach p (needs --temperature above 0)'))
    .addOption(option('--seed <n>', 'seed of the sampling', 42))
    .addOption(option('--samples <m>', 'independent continuations', 1))
    .addOption(option('--precision <p>', "fp32, or bf16: the products read bf16 weights, activations stay float32 (default: the checkpoint's training precision)"))
    .addOption(option('--strict', 'refuse a prefix with tokens outside the vocabulary instead of reading them as <unk>'))
    .addOption(option('--threads <n>', 'threads of the products of each token (default: OMP_NUM_THREADS, else the cores this process may use)'));
  addOptions(command, formatOptions(['text', 'json']))
    .action((typed: string, raw: RawPredictOptions, cmd: Command) => {
      const format = outputFormat(cmd, ['text', 'json']);
      const json = format === 'json';
      const numPreds = intOption('--num-preds', raw.numPreds, 0, MAX_PREDS);
      // The library's checks of the sampling options (generate), named as typed.
      const { temperature, topK, topP, seed } = checkSampling(raw, cliNaming(() => true));
      const samples = intOption('--samples', raw.samples, 1, 100_000);
      if (temperature === 0) {
        // Greedy decoding draws nothing: more than one sample would repeat the
        // first, and a seed would change nothing (as --top-k and --top-p, refused).
        if (samples > 1) {
          throw new UsageError(`--samples ${samples} needs sampling: greedy decoding (--temperature 0) gives the same continuation every time; `
            + 'give --temperature above 0');
        }
        if (cmd.getOptionValueSource('seed') === 'cli') {
          throw new UsageError('--seed needs sampling: greedy decoding (--temperature 0) draws nothing; give --temperature above 0');
        }
      }
      const precision = precisionOption(raw.precision);
      const threads = threadsOption(raw.threads);
      refuseOverwrite([{ label: '--model', path: raw.model }], []);
      native().setThreads(threads);
      const ckpt = loadCheckpoint(raw.model);
      if (precision) ckpt.model.precision = precision;
      // (no note on which bf16 products run: generation's one-token steps run float32 products
      // on the weights rounded to bf16, on every CPU alike)
      // The prefix is read as the model's training text was (before, a "\r\n" pasted from a
      // Windows file kept its "\r", outside the vocabulary of a model trained with line ends read as "\n").
      const prefix = asTrainingRead(typed, ckpt.model.lineEnds, ckpt.tokenizer);
      const unknown = ckpt.tokenizer.unknown(prefix);
      if (unknown.length > 0) {
        const list = unknown.slice(0, 10).map((t) => JSON.stringify(t)).join(', ') + (unknown.length > 10 ? ', ...' : '');
        if (raw.strict) throw new UsageError(`the prefix has tokens outside the model's vocabulary: ${list}`);
        warn(`the prefix has tokens outside the model's vocabulary, read as <unk>: ${list}`);
      }
      const rng = new Rng(seed);
      // --json: one object, {"prefix", "samples": [{"sample", "text"}, ...]}, written once every sample is complete.
      const records = new RecordStream<SampleRecord>(format, { columns: [], json: { head: { prefix: typed }, key: 'samples' } });
      // Streamed text is written as it comes and never kept: any length runs in
      // constant memory. To a terminal, token by token; to a pipe or file, in
      // pieces of up to 16 KiB or 50 ms (a write per token made a system call per token).
      const stream = new TextStream(process.stdout.isTTY === true);
      // --json writes at the end: a reader that went away (`| true`) is looked for every
      // READER_CHECK_MS instead (before, noticed only after the last token, hours later for the largest runs).
      let looked = performance.now();
      // (pipes and sockets only: a file, /dev/null or a terminal has no reader to lose)
      const piped = json && pipeOrSocket(1);
      const readerThere = () => {
        const now = performance.now();
        if (!piped || now - looked < READER_CHECK_MS) return;
        looked = now;
        if (native().outputGone(1)) throw new OutputClosed('the standard output was closed');
      };
      for (let i = 0; i < samples; i++) {
        let text: string;
        try {
          text = generate(ckpt.model, ckpt.tokenizer, prefix, {
            numPreds, temperature, topK, topP, rng, onText: json ? readerThere : (piece) => stream.add(piece), collect: json,
          });
        } catch (e) {
          // the text so far goes out if it can, ended as a whole sample's is (the error's line
          // then starts a line of its own; --json writes nothing); the error that stopped it is the one reported
          try {
            stream.flush();
            if (!json) write('\n');
          } catch {
            // (stdout failed too)
          }
          throw e;
        }
        stream.flush();
        if (json) records.add({ sample: i + 1, text });
        else write('\n');
      }
      records.end();
    });
}

/** How often predict --json looks for a reader that went away (a poll of stdout). */
const READER_CHECK_MS = 100;

/** Whether fd is a pipe (FIFO) or a socket. */
function pipeOrSocket(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}

/** Generated text on its way to stdout: each piece at once (interactive), or gathered into larger writes. */
class TextStream {
  private pending = '';
  private last = performance.now();

  constructor(private readonly eachPiece: boolean) {}

  add(piece: string): void {
    if (this.eachPiece) return write(piece);
    this.pending += piece;
    if (this.pending.length >= 16384 || performance.now() - this.last >= 50) this.flush();
  }

  flush(): void {
    const text = this.pending;
    this.pending = '';  // written once, whether or not the write goes through
    this.last = performance.now();
    if (text) write(text);
  }
}
