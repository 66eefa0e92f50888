// `train`: the seed's flags (names and defaults), parsed and checked, into a training run; `--resume
// RUN_DIR` continues a run with the configuration saved in its train_info.json.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { BEST_METRICS, type BestMetric } from '../train/metrics.js';
import { defaultWorkers, type OptimizerName, train, type TrainConfig } from '../train/trainer.js';
import { checkBatchNormValues } from '../model/fits.js';
import { WIDTHS, type Width } from '../model/shufflenet.js';
import { parseBoolean, positiveInteger, positiveNumber } from './flags.js';

export function trainOptions(y: Argv) {
  return y
    .option('model', { type: 'string', default: 'x0_5', choices: Object.keys(WIDTHS), describe: 'ShuffleNet V2 width' })
    .option('pretrained', { type: 'string', default: 'true', describe: 'start from the official ImageNet weights (true/false)' })
    .option('freeze_layers', { type: 'string', default: 'true', describe: 'train only the classifier fc (true/false)' })
    .option('batch-size', { type: 'string', default: '8' })
    .option('epochs', { type: 'string', default: '10' })
    .option('optim', { type: 'string', default: 'SGD', choices: ['SGD', 'Adam', 'AdamW'] })
    .option('lr', { type: 'string', default: '0.01', describe: 'initial learning rate' })
    .option('lrf', { type: 'string', default: '0.001', describe: 'final learning rate, as a fraction of --lr (cosine schedule)' })
    .option('save_ret', { type: 'string', default: 'runs', describe: 'folder that receives one exp<N> folder per run' })
    .option('data_train', { type: 'string', default: './data/train' })
    .option('data_val', { type: 'string', default: './data/val' })
    .option('weights', { type: 'string', describe: 'start from this checkpoint (.pth or .safetensors) instead of the ImageNet weights' })
    .option('img-size', { type: 'string', default: '224' })
    .option('seed', { type: 'string', default: '0', describe: 'seed of the initial weights, the shuffling and the augmentation' })
    .option('workers', { type: 'string', default: String(defaultWorkers()), describe: 'data-loading threads (0: decode in the main thread)' })
    .option('augment', { type: 'string', default: 'true', describe: 'RandomResizedCrop + flip for training; false: the evaluation transform' })
    .option('shuffle', { type: 'string', default: 'true' })
    .option('momentum', { type: 'string', default: '0.9', describe: 'SGD momentum' })
    .option('weight-decay', { type: 'string', describe: 'default: 4e-5 for SGD, 0 for Adam, 0.01 for AdamW' })
    .option('balanced', { type: 'string', default: 'false', describe: 'draw training batches so that every class is equally likely (oversamples small classes, for imbalanced data)' })
    .option('best-metric', { type: 'string', default: 'accuracy', choices: Object.keys(BEST_METRICS), describe: 'validation metric that picks best.pth' })
    .option('frozen-bn', { type: 'string', default: 'train', choices: ['train', 'eval'], describe: 'with --freeze_layers: batch norms of the frozen backbone use batch statistics and update their running ones (train, as PyTorch) or keep the ImageNet statistics (eval)' })
    .option('resume', { type: 'string', describe: 'continue the run in this folder from its last completed epoch' })
    .option('adapter', { type: 'string' });
}

type TrainArgs = Awaited<ReturnType<ReturnType<typeof trainOptions>['parseAsync']>>;

function nonNegativeInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${flag} must be a whole number of at least 0, not '${value}'`);
  return n;
}

export function configFromArgs(a: TrainArgs): TrainConfig {
  const optim = a.optim as OptimizerName;
  const lrf = positiveNumber('lrf', a.lrf);
  if (lrf > 1) throw new Error(`--lrf is the final learning rate as a fraction of --lr, at most 1, not '${a.lrf}'`);
  const config = {
    model: a.model as Width,
    pretrained: parseBoolean('pretrained')(a.pretrained),
    freeze_layers: parseBoolean('freeze_layers')(a.freeze_layers),
    batch_size: positiveInteger('batch-size')(a['batch-size']),
    epochs: positiveInteger('epochs')(a.epochs),
    optim,
    lr: positiveNumber('lr', a.lr),
    lrf,
    save_ret: a.save_ret,
    data_train: a.data_train,
    data_val: a.data_val,
    weights: a.weights ?? null,
    img_size: positiveInteger('img-size')(a['img-size']),
    seed: nonNegativeInteger('seed', a.seed),
    workers: nonNegativeInteger('workers', a.workers),
    augment: parseBoolean('augment')(a.augment),
    shuffle: parseBoolean('shuffle')(a.shuffle),
    momentum: Number(a.momentum),
    weight_decay: a['weight-decay'] !== undefined ? Number(a['weight-decay']) : optim === 'SGD' ? 4e-5 : optim === 'Adam' ? 0 : 0.01,
    best_metric: a['best-metric'] as BestMetric,
    balanced: parseBoolean('balanced')(a.balanced),
    frozen_bn: a['frozen-bn'] as 'train' | 'eval',
    adapter: a.adapter ?? null,
  } satisfies TrainConfig;
  checkBatchNormValues(config.batch_size, config.img_size, !(config.freeze_layers && config.frozen_bn === 'eval'));
  return config;
}

export async function trainCommand(a: TrainArgs): Promise<string> {
  if (!a.resume) return train(configFromArgs(a));
  const infoPath = join(a.resume, 'train_info.json');
  if (!existsSync(join(a.resume, 'weights', 'resume.safetensors')) || !existsSync(infoPath)) {
    throw new Error(`--resume: ${a.resume} is not a run folder with a resume checkpoint (weights/resume.safetensors and train_info.json)`);
  }
  const saved = JSON.parse(readFileSync(infoPath, 'utf8'))['train parameters'] as TrainConfig;
  // The run continues as configured; only where it runs may change.
  const config: TrainConfig = { ...saved, adapter: a.adapter ?? null, workers: nonNegativeInteger('workers', a.workers) };
  return train(config, a.resume);
}
