// deeprnn export [CKPT] --onnx NAME.onnx: the model as standard ONNX operators,
// with its card (configuration, vocabulary, the graph's inputs and outputs) in
// the model's metadata and in NAME.json beside it.
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadCheckpoint } from '../io/checkpoint.js';
import { checkWritable, isSymlink, realTarget, refuseOverwrite, removeStaleTemps, sameFile, writeFileAtomic } from '../io/files.js';
import { checkpointPath, modelOption } from './defaults.js';
import { UsageError } from './errors.js';
import { plural } from '../validate.js';
import { CARD_FORMAT } from '../web/onnx-lm.js';
import { emit } from './output.js';
import { addOptions, formatOptions, option, outputFormat, precisionOption, requiredOption } from './options.js';

/** A card as JSON: one top-level key a line, each value on its line. */
function cardJSON(card: object): string {
  return `{\n${Object.entries(card).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n')}\n}\n`;
}

/**
 * An existing NAME.json that is not an earlier export's card (an eval
 * baseline, a vocabulary of the user's) is not replaced: the export stops
 * before writing anything (before, it was overwritten without a word).
 */
function refuseForeignCard(card: string, onnx: string): void {
  let text: string;
  try {
    if (!statSync(card).isFile()) return; // (checkWritable names what is in the way)
    text = readFileSync(card, 'utf8');
  } catch {
    return; // none there (or unreadable: the write will say so)
  }
  let format: unknown;
  try {
    format = (JSON.parse(text) as { format?: unknown } | null)?.format;
  } catch {
    format = undefined;
  }
  if (format !== CARD_FORMAT) {
    throw new UsageError(`--onnx ${onnx} would replace ${card}, which is not a card an earlier export wrote (no "format": "${CARD_FORMAT}"): `
      + 'move it away, or choose another --onnx');
  }
}

/** How an export's graph begins: ir_version (field 1), then producer_name (field 2) "deeprnn". */
const PRODUCER = Buffer.from('\x12\x07deeprnn', 'latin1');

/**
 * An existing --onnx that is no graph an earlier export wrote (a user's file,
 * another program's model) is not replaced either (before, it was, without a
 * word, while its card beside it was kept).
 */
function refuseForeignOnnx(onnx: string): void {
  let fd: number;
  try {
    fd = openSync(onnx, 'r');
  } catch {
    return; // none there (or unreadable: the write will say so)
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size === 0) return; // (checkWritable names what is in the way; an empty file holds nothing)
    const head = Buffer.alloc(32);
    const n = readSync(fd, head, 0, head.length, 0);
    if (head.subarray(0, n).includes(PRODUCER)) return;
  } finally {
    closeSync(fd);
  }
  throw new UsageError(`--onnx ${onnx} would replace a file that is not a model an earlier export wrote (its producer is not deeprnn): `
    + 'move it away, or choose another --onnx');
}

/** NAME.json beside NAME.onnx. */
export const cardPath = (onnx: string) => `${onnx.slice(0, -'.onnx'.length)}.json`;

export function registerExport(program: Command): void {
  const command = program
    .command('export')
    .description('write a checkpoint\'s model as ONNX (RNN, GRU, LSTM operators) with its vocabulary in NAME.json beside it')
    .argument('[checkpoint]', 'the same as --model')
    .addOption(modelOption())
    .addOption(requiredOption('--onnx <file.onnx>', 'the ONNX file to write; its card (configuration, vocabulary) goes to NAME.json beside it'))
    .addOption(option('--precision <p>', "fp32, or bf16: the weights the products read rounded to bf16, as predict reads them (default: the checkpoint's training precision)"));
  addOptions(command, formatOptions(['text', 'json']))
    .action(async (argument: string | undefined, raw: { onnx: string; precision?: string }, cmd: Command) => {
      const precision = precisionOption(raw.precision);
      // Loaded here: the other commands need none of ONNX (protobufjs).
      const { checkExportable, exportOnnx, ONNX_OPSET } = await import('../io/onnx.js');
      const format = outputFormat(cmd, ['text', 'json']);
      const file = checkpointPath(argument, cmd);
      if (!raw.onnx.endsWith('.onnx') || raw.onnx.length === '.onnx'.length) {
        throw new UsageError(`--onnx must name an .onnx file, got "${raw.onnx}"`);
      }
      // The graph is written where a link at --onnx leads, and its card beside it (before, beside the link:
      // the card of another model's graph was left there stale)
      const leadsTo = isSymlink(raw.onnx) ? realTarget(raw.onnx) : null;
      const card = cardPath(leadsTo?.endsWith('.onnx') ? leadsTo : raw.onnx);
      // (through a symlink the card would be written over the model just written)
      if (sameFile(raw.onnx, card)) throw new UsageError(`--onnx ${raw.onnx} and its card ${card} are the same file (a symlink): choose another --onnx`);
      // A link that leads to a file of another name would put the graph there and its card beside the link: not a pair.
      if (leadsTo !== null && !leadsTo.endsWith('.onnx')) {
        throw new UsageError(`--onnx ${raw.onnx} is a link to ${leadsTo}, which is not an .onnx file: the graph would be written there and its card `
          + `beside the link; choose another --onnx`);
      }
      checkWritable(raw.onnx, '--onnx');
      checkWritable(card, 'the card (NAME.json beside --onnx)');
      refuseOverwrite([{ label: 'the checkpoint', path: file }], [
        { label: '--onnx', path: raw.onnx },
        { label: 'the card', path: card },
      ]);
      refuseForeignOnnx(raw.onnx);
      refuseForeignCard(card, raw.onnx);
      const ckpt = loadCheckpoint(file);
      if (precision) ckpt.model.precision = precision;
      checkExportable(ckpt.meta.config.cell);
      const out = exportOnnx(ckpt.model, ckpt.tokenizer);
      removeStaleTemps([raw.onnx, card]);
      const write = (what: string, file: string, data: Buffer | string) => {
        try {
          writeFileAtomic(file, data);
        } catch (e) {
          throw new Error(`could not write ${what} ${file} (${(e as Error).message})`);
        }
      };
      write('--onnx', raw.onnx, Buffer.from(out.bytes));
      write('the card', card, cardJSON(out.card));
      const { config } = ckpt.meta;
      emit({
        json: { onnx: raw.onnx, card, bytes: out.bytes.length, cell: config.cell, hidden: config.hidden, vocabSize: config.vocabSize, opset: ONNX_OPSET },
        text: () => `wrote ${raw.onnx} (${out.bytes.length.toLocaleString('en-US')} bytes; ${config.cell}, ${plural(config.hidden.length, 'layer')} `
          + `of ${config.hidden.join(', ')}; ONNX opset ${ONNX_OPSET}) and ${card} (vocabulary of ${config.vocabSize})\n`,
      }, format);
    });
}
