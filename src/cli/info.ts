// deeprnn info --model CKPT: what a checkpoint holds.
import type { Command } from 'commander';
import { FORMAT_VERSION, hasTrainingState, loadCheckpoint } from '../io/checkpoint.js';
import { paramCount } from '../nn/config.js';
import { refuseOverwrite } from '../io/files.js';
import { write } from './output.js';
import { renderTable } from './table.js';
import { checkpointPath, modelOption } from './defaults.js';
import { option } from './options.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('describe a checkpoint: model, parameters, tokenizer, training and history')
    .argument('[checkpoint]', 'the same as --model')
    .addOption(modelOption())
    .addOption(option('--json', 'print one JSON object'))
    .action((argument: string | undefined, raw: { json?: boolean }, cmd: Command) => {
      const file = checkpointPath(argument, cmd);
      refuseOverwrite([{ label: 'the checkpoint', path: file }], []);
      const { meta, model, tokenizer } = loadCheckpoint(file);
      const { config } = meta;
      const run = hasTrainingState(meta) ? meta : null;
      const history = run?.history ?? [];
      const tensors = model.table.map((p) => ({ name: p.name, shape: p.shape, count: p.size }));
      const best = history.reduce<(typeof history)[number] | undefined>((a, h) => (!a || h.valPpl < a.valPpl ? h : a), undefined);
      const last = history[history.length - 1];
      const summary = {
        format_version: meta.version,
        cell: config.cell,
        layers: config.hidden.length,
        hidden: config.hidden,
        dropout: config.dropout,
        vocab_size: config.vocabSize,
        tokenizer: tokenizer.kind,
        ...(tokenizer.kind === 'word' ? { min_freq: tokenizer.minFreq } : {}),
        parameters: paramCount(model.table),
        tensors,
        // A model saved by RNNLM.save has no training state: these are null.
        training: run?.training ?? null,
        position: run ? { epoch: run.state.epoch, batch: run.state.batch, steps: run.state.step } : null,
        history: run ? {
          epochs: history.length,
          best_val_ppl: best?.valPpl ?? null,
          best_epoch: best?.epoch ?? null,
          last_train_ppl: last?.trainPpl ?? null,
          last_val_ppl: last?.valPpl ?? null,
        } : null,
      };
      if (raw.json) {
        write(JSON.stringify(summary) + '\n');
        return;
      }
      const out: string[] = [
        `checkpoint ${file} (format version ${meta.version}; this deeprnn reads up to ${FORMAT_VERSION})`,
        `model: ${config.cell}, ${config.hidden.length} layers, hidden ${config.hidden.join(', ')}, dropout ${config.dropout}`,
        `tokenizer: ${tokenizer.kind}${tokenizer.kind === 'word' ? ` (min-freq ${tokenizer.minFreq})` : ''}, vocabulary of ${config.vocabSize}`,
        `parameters: ${summary.parameters.toLocaleString('en-US')}`,
        ...renderTable(['name', 'shape', 'count'], tensors.map((t) => [t.name, `[${t.shape.join(', ')}]`, t.count.toLocaleString('en-US')]), [22, 14])
          .trimEnd().split('\n').slice(1).map((line) => `  ${line}`),
      ];
      if (!run) {
        out.push('training: none recorded (a model saved by RNNLM.save: weights, configuration and tokenizer only)');
      } else {
        const { training, state } = run;
        out.push(
          `training: corpus ${training.corpus.join(' ')}${training.initFrom ? ` from the weights of ${training.initFrom}` : ''}, `
            + `${training.batching} batches of ${training.batchSize} x ${training.numSteps}, `
            + `${training.valFrac === null ? `${training.numTrain}/${training.numVal} windows` : `validation fraction ${training.valFrac}`}, `
            + `lr ${training.lr}, clip ${training.clip}, seed ${training.seed}, ${training.epochs} epochs planned`,
          `position: epoch ${state.epoch}${state.batch ? ` + ${state.batch} batches` : ''}, ${state.step} steps`,
          best && last
            ? `history: ${history.length} epochs; best val ppl ${best.valPpl.toFixed(3)} (epoch ${best.epoch}); last train ppl ${last.trainPpl.toFixed(3)}, val ppl ${last.valPpl.toFixed(3)}`
            : 'history: no completed epoch',
        );
      }
      write(out.join('\n') + '\n');
    });
}
