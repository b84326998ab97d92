// deeprnn info --model CKPT: what a checkpoint holds.
import type { Command } from 'commander';
import { FORMAT_VERSION, hasTrainingState, loadCheckpoint, storedDtypes } from '../io/checkpoint.js';
import { paramCount } from '../nn/config.js';
import { refuseOverwrite } from '../io/files.js';
import { bestEpoch, runTokensPerSec } from '../train/metrics.js';
import { emit, renderRecords, type Column } from './output.js';
import { checkpointPath, modelOption } from './defaults.js';
import { addOptions, formatOptions, outputFormat } from './options.js';
import { plural, terminalSafe } from '../validate.js';
import { HYPER_KEYS, showHyper, type OptimizerSettings } from '../train/optim.js';
import type { ScheduleSettings } from '../train/schedule.js';

/** "adam (betas 0.9,0.999, eps 1e-8, weightDecay 0), 40 steps, rate now 2.03e-5": what the checkpoint stores (its rate: the schedule's last). */
function optimizerText(o: OptimizerSettings & { steps?: number }): string {
  const hyper = HYPER_KEYS.filter((k) => o[k] !== undefined).map((k) => `${k} ${showHyper(o[k]!)}`);
  return `${o.kind}${hyper.length ? ` (${hyper.join(', ')})` : ''}${o.steps !== undefined ? `, ${o.steps} steps` : ''}, rate now ${Number(o.lr.toPrecision(3))}`;
}

/** "schedule cosine (warmup 3, min-lr 0)", or "schedule constant". */
function scheduleText(s: ScheduleSettings | undefined): string {
  if (!s || s.kind === 'constant') return `schedule constant${s?.warmup ? ` (warmup ${s.warmup})` : ''}`;
  const parts = [`warmup ${s.warmup}`, ...(s.kind !== 'cosine' ? [`decay ${s.decay} after ${s.decayAfter}`] : []), `min-lr ${s.minLr}`];
  return `schedule ${s.kind} (${parts.join(', ')})`;
}

/** A tensor of the model: its name, shape, element count and how the file stores it. */
export interface TensorRow {
  name: string;
  shape: number[];
  count: number;
  dtype: 'F32' | 'BF16';
}

const TENSOR_COLUMNS: Column<TensorRow>[] = [
  { key: 'name', header: 'name', width: 24 },
  { key: 'shape', header: 'shape', text: (t) => `[${t.shape.join(', ')}]`, width: 16 },
  { key: 'count', header: 'count', text: (t) => t.count.toLocaleString('en-US'), width: 12 },
  { key: 'dtype', header: 'dtype' },
];

export function registerInfo(program: Command): void {
  const command = program
    .command('info')
    .description('describe a checkpoint: model, parameters, tokenizer, training and history')
    .argument('[checkpoint]', 'the same as --model')
    .addOption(modelOption());
  addOptions(command, formatOptions(['text', 'json', 'csv'], 'one row per tensor'))
    .action((argument: string | undefined, _raw: unknown, cmd: Command) => {
      const format = outputFormat(cmd, ['text', 'json', 'csv']);
      const file = checkpointPath(argument, cmd);
      refuseOverwrite([{ label: 'the checkpoint', path: file }], []);
      const ck = loadCheckpoint(file);
      const { meta, model, tokenizer } = ck;
      const bf16 = new Set(ck.bf16Tensors);
      // what the tensors are, not what the metadata says
      const stored = storedDtypes(ck);
      const { config } = meta;
      const run = hasTrainingState(meta) ? meta : null;
      const history = run?.history ?? [];
      const tensors: TensorRow[] = model.table.map((p) => ({ name: p.name, shape: p.shape, count: p.size, dtype: bf16.has(p.name) ? 'BF16' : 'F32' }));
      const best = bestEpoch(history);
      const last = history[history.length - 1];
      const summary = {
        formatVersion: meta.version,
        cell: config.cell,
        layers: config.hidden.length,
        hidden: config.hidden,
        dropout: config.dropout,
        vocabSize: config.vocabSize,
        tokenizer: tokenizer.kind,
        ...(tokenizer.kind === 'word' ? { minFreq: tokenizer.minFreq } : {}),
        parameters: paramCount(model.table),
        tensors,
        // the products' precision the model loads with (its run's, or RNNLM.save's), and how the file stores its tensors
        precision: model.precision,
        storedWeights: stored.weights,
        bf16State: stored.roundedState,
        // A model saved by RNNLM.save has no training state: these are null.
        training: run?.training ?? null,
        // How the run optimizes: the optimizer with its hyperparameters and step count, the schedule (constant when none was stored), the clipping.
        optimizer: run?.optimizer ?? null,
        schedule: run ? run.schedule ?? { kind: 'constant', lr: run.training.lr } : null,
        clipMode: run ? run.clipMode ?? 'norm' : null,
        position: run ? { epoch: run.state.epoch, batch: run.state.batch, steps: run.state.step } : null,
        history: run ? {
          epochs: history.length,
          bestValPpl: best?.valPpl ?? null,
          bestEpoch: best?.epoch ?? null,
          lastTrainPpl: last?.trainPpl ?? null,
          lastValPpl: last?.valPpl ?? null,
          tokensPerSec: runTokensPerSec(history),
        } : null,
      };
      const text = () => {
        const out: string[] = [
          `checkpoint ${file} (format version ${meta.version}; this deeprnn reads up to ${FORMAT_VERSION})`,
          `model: ${config.cell}, ${plural(config.hidden.length, 'layer')}, hidden ${config.hidden.join(', ')}, dropout ${config.dropout}`,
          `tokenizer: ${tokenizer.kind}${tokenizer.kind === 'word' ? ` (min-freq ${tokenizer.minFreq})` : ''}, vocabulary of ${config.vocabSize}`,
          `parameters: ${summary.parameters.toLocaleString('en-US')}`,
          renderRecords('text', TENSOR_COLUMNS, tensors, { header: false, indent: '  ' }).trimEnd(),
        ];
        if (!run) {
          out.push(`products in ${model.precision}, weights stored as ${stored.weights}`);
          out.push('training: none recorded (a model saved by RNNLM.save: weights, configuration and tokenizer only)');
        } else {
          const { training, state } = run;
          out.push(
            `training: corpus ${training.corpus.map(terminalSafe).join(' ')}${training.initFrom ? ` from the weights of ${terminalSafe(training.initFrom)}` : ''}, `
              + `${training.batching} batches of ${training.batchSize} x ${training.numSteps}, `
              + `${training.valFrac === null ? `${training.numTrain}/${training.numVal} windows` : `validation fraction ${training.valFrac}`}, `
              + `lr ${training.lr}, clip ${training.clip}, seed ${training.seed}, ${plural(training.epochs, 'epoch')} planned`
              // (a run from before line ends were read as LF: its resume and eval read its texts so)
              + `${training.lineEnds === 'lf' ? '' : ', line ends kept ("\\r" read as it is)'}`,
            `optimization: ${optimizerText(run.optimizer)}; ${scheduleText(run.schedule)}; clip ${run.clipMode ?? 'norm'} ${training.clip}; `
              + `products in ${training.precision ?? 'fp32'}, weights stored as ${stored.weights}`
              + `${stored.roundedState.length ? `, ${stored.roundedState.join(', ')} stored as bf16` : ''}`,
            `position: epoch ${state.epoch}${state.batch ? ` + ${state.batch} batches` : ''}, ${state.step} steps`,
            best && last
              ? `history: ${plural(history.length, 'epoch')}; best val ppl ${best.valPpl.toFixed(3)} (epoch ${best.epoch}); `
                + `last train ppl ${last.trainPpl.toFixed(3)}, val ppl ${last.valPpl.toFixed(3)}; ${Math.round(summary.history!.tokensPerSec)} tokens/s`
              : 'history: no completed epoch',
          );
        }
        return out.join('\n') + '\n';
      };
      emit({ json: summary, text, csv: { columns: TENSOR_COLUMNS, rows: tensors } }, format);
    });
}
