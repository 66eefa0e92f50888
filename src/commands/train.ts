// `train`: the seed's flags (names and defaults), parsed and checked before any work starts, into a
// training run; `--resume RUN_DIR` continues a run with the configuration saved in its
// train_info.json. A resumed run takes no other flag that changes what it computes (it would no
// longer be the run it continues): only --epochs, to make it longer, and where it runs (--adapter,
// --workers); a flag that gives the saved value is accepted.

import { statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { BEST_METRICS, type BestMetric } from '../train/metrics.js';
import { defaultWeightDecay } from '../train/core.js';
import { imageFolder } from '../data/folder.js';
import { splitFolder } from '../data/split.js';
import { checkWritableFolder, removePartialFiles, writeJson } from '../train/files.js';
import { checkResumeData } from '../train/resume_data.js';
import { OPTIMIZERS, TRAIN_DEFAULTS } from '../train/settings.js';
import { defaultWorkers, train, type TrainConfig } from '../train/trainer.js';
import { checkBatchNormValues } from '../model/fits.js';
import { WIDTHS, type Width } from '../model/shufflenet.js';
import { flagChecks, readJsonFile } from './flags.js';

/** The seed's defaults, as flag values. They are applied here, not by yargs, so that --resume can tell the flags given. */
const DEFAULTS = Object.fromEntries(Object.entries(TRAIN_DEFAULTS).map(([flag, value]) => [flag, String(value)])) as {
  [flag in keyof typeof TRAIN_DEFAULTS]: string;
};

/** A flag's default, shown by --help. */
const withDefault = (flag: keyof typeof DEFAULTS) => ({ type: 'string', defaultDescription: DEFAULTS[flag] }) as const;

export function trainOptions(y: Argv) {
  return y
    .option('model', { ...withDefault('model'), choices: Object.keys(WIDTHS), describe: 'ShuffleNet V2 width' })
    .option('pretrained', { ...withDefault('pretrained'), describe: 'start from the official ImageNet weights (true/false)' })
    .option('freeze_layers', { ...withDefault('freeze_layers'), describe: 'train only the classifier fc (true/false)' })
    .option('batch-size', withDefault('batch-size'))
    .option('epochs', withDefault('epochs'))
    .option('optim', { ...withDefault('optim'), choices: OPTIMIZERS })
    .option('lr', { ...withDefault('lr'), describe: 'initial learning rate' })
    .option('lrf', { ...withDefault('lrf'), describe: 'final learning rate, as a fraction of --lr (cosine schedule)' })
    .option('save_ret', { ...withDefault('save_ret'), describe: 'folder that receives one exp<N> folder per run' })
    .option('data_train', withDefault('data_train'))
    .option('data_val', withDefault('data_val'))
    .option('val-split', {
      type: 'string',
      describe: "validate on this fraction of --data_train (seeded, stratified; listed in the run folder's split.csv) instead of --data_val",
    })
    .option('weights', { type: 'string', describe: 'start from this checkpoint (.pth or .safetensors) instead of the ImageNet weights' })
    .option('img-size', withDefault('img-size'))
    .option('seed', { ...withDefault('seed'), describe: 'seed of the initial weights, the shuffling and the augmentation' })
    .option('workers', { type: 'string', default: String(defaultWorkers()), describe: 'data-loading threads (0: decode in the main thread)' })
    .option('augment', { ...withDefault('augment'), describe: 'RandomResizedCrop + flip for training; false: the evaluation transform' })
    .option('shuffle', withDefault('shuffle'))
    .option('momentum', { ...withDefault('momentum'), describe: 'SGD momentum, from 0 up to (not including) 1' })
    .option('weight-decay', { type: 'string', describe: 'at least 0; default: 4e-5 for SGD, 0 for Adam, 0.01 for AdamW' })
    .option('balanced', {
      ...withDefault('balanced'),
      describe: 'draw training batches so that every class is equally likely (oversamples small classes, for imbalanced data)',
    })
    .option('best-metric', { ...withDefault('best-metric'), choices: Object.keys(BEST_METRICS), describe: 'validation metric that picks best.pth' })
    .option('frozen-bn', {
      ...withDefault('frozen-bn'),
      choices: ['train', 'eval'],
      describe:
        'with --freeze_layers: batch norms of the frozen backbone use batch statistics and update their running ones (train, as PyTorch) or keep the ImageNet statistics (eval)',
    })
    .option('resume', {
      type: 'string',
      describe: 'continue the run in this folder from its last completed epoch (other flags: only a larger --epochs, --adapter, --workers)',
    })
    .option('adapter', { type: 'string' });
}

type TrainArgs = Awaited<ReturnType<ReturnType<typeof trainOptions>['parseAsync']>>;

/** More threads than this only cost memory (each holds a decoder and an image cache). */
const MAX_WORKERS = Math.max(16, 4 * cpus().length);

function valFraction(value: string): number {
  const f = Number(value);
  if (!(f > 0 && f < 1)) throw new Error(`--val-split is the fraction of --data_train kept for validation, between 0 and 1 (e.g. 0.2), not '${value}'`);
  return f;
}

/** The configuration key of each flag that sets one. */
const CONFIG_KEY: Record<string, keyof TrainConfig> = {
  model: 'model',
  pretrained: 'pretrained',
  freeze_layers: 'freeze_layers',
  'batch-size': 'batch_size',
  epochs: 'epochs',
  optim: 'optim',
  lr: 'lr',
  lrf: 'lrf',
  save_ret: 'save_ret',
  data_train: 'data_train',
  data_val: 'data_val',
  weights: 'weights',
  'img-size': 'img_size',
  seed: 'seed',
  augment: 'augment',
  shuffle: 'shuffle',
  momentum: 'momentum',
  'weight-decay': 'weight_decay',
  balanced: 'balanced',
  'best-metric': 'best_metric',
  'frozen-bn': 'frozen_bn',
  'val-split': 'val_split',
};

export function configFromArgs(given: TrainArgs): TrainConfig {
  const a = { ...DEFAULTS, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) } as TrainArgs & typeof DEFAULTS;
  const { boolean, finalLrFraction, numberInRange, oneOf, positiveNumber, wholeNumber } = flagChecks;
  const optim = oneOf('optim', a.optim, OPTIMIZERS);
  if (given.momentum !== undefined && optim !== 'SGD')
    throw new Error(`--momentum applies to --optim SGD only (${optim} has no momentum setting): leave it out`);
  const config = {
    model: oneOf('model', a.model, Object.keys(WIDTHS) as Width[]),
    pretrained: boolean('pretrained', a.pretrained),
    freeze_layers: boolean('freeze_layers', a.freeze_layers),
    batch_size: wholeNumber('batch-size', a['batch-size'], 1),
    epochs: wholeNumber('epochs', a.epochs, 1),
    optim,
    lr: positiveNumber('lr', a.lr),
    lrf: finalLrFraction(a.lrf),
    save_ret: a.save_ret,
    data_train: a.data_train,
    data_val: a.data_val,
    val_split: a['val-split'] !== undefined ? valFraction(a['val-split']) : null,
    weights: a.weights ?? null,
    img_size: wholeNumber('img-size', a['img-size'], 1),
    seed: wholeNumber('seed', a.seed, 0, 0xffffffff),
    workers: wholeNumber('workers', a.workers, 0, MAX_WORKERS),
    augment: boolean('augment', a.augment),
    shuffle: boolean('shuffle', a.shuffle),
    // PyTorch refuses a negative momentum; 1 and above make the velocity grow without bound.
    momentum: numberInRange('momentum', a.momentum, 0, 1, 'a number from 0 up to (not including) 1'),
    weight_decay:
      a['weight-decay'] !== undefined
        ? numberInRange('weight-decay', a['weight-decay'], 0, Infinity, 'a finite number of at least 0')
        : defaultWeightDecay(optim),
    best_metric: oneOf('best-metric', a['best-metric'], Object.keys(BEST_METRICS) as BestMetric[]),
    balanced: boolean('balanced', a.balanced),
    frozen_bn: oneOf('frozen-bn', a['frozen-bn'], ['train', 'eval'] as const),
    adapter: a.adapter ?? null,
  } satisfies TrainConfig;
  checkBatchNormValues(config.batch_size, config.img_size, !(config.freeze_layers && config.frozen_bn === 'eval'));
  return config;
}

/** A file the run reads, checked up front: it must exist and be a regular file. */
function checkFile(path: string, flag: string): void {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new Error(`${flag}: ${path} does not exist`);
  }
  if (!isFile) throw new Error(`${flag}: ${path} is not a regular file`);
}

export async function trainCommand(a: TrainArgs): Promise<string> {
  if (a.resume) return resumeCommand(a, a.resume);
  const config = configFromArgs(a);
  if (config.weights) checkFile(config.weights, '--weights');
  checkWritableFolder(config.save_ret, '--save_ret');
  return train(config);
}

/** A run's saved configuration, checked as its flags are (an edited train_info.json is named, not trained with). */
function savedConfig(infoPath: string, saved: TrainConfig | undefined): TrainConfig {
  if (!saved || typeof saved !== 'object') throw new Error(`--resume: ${infoPath} has no "train parameters"`);
  const asFlags = Object.entries(CONFIG_KEY).filter(
    ([flag, key]) => saved[key] !== null && saved[key] !== undefined && (flag !== 'momentum' || saved.optim === 'SGD'),
  );
  try {
    const flags = Object.fromEntries([...asFlags.map(([flag, key]) => [flag, String(saved[key])]), ['workers', '0']]);
    return configFromArgs(flags as TrainArgs);
  } catch (e) {
    throw new Error(`--resume: ${infoPath} has "train parameters" no run can have: ${(e as Error).message}`);
  }
}

async function resumeCommand(a: TrainArgs, run: string): Promise<string> {
  const infoPath = join(run, 'train_info.json');
  checkFile(join(run, 'weights', 'resume.safetensors'), `--resume: ${run} is not a run folder with a resume checkpoint:`);
  const info = readJsonFile(infoPath, '--resume') as { 'train parameters'?: TrainConfig };
  const saved = savedConfig(infoPath, info['train parameters']);
  const requested = configFromArgs({ ...a, optim: a.optim ?? saved.optim });
  const changed = Object.entries(CONFIG_KEY).filter(
    ([flag, key]) => a[flag] !== undefined && flag !== 'epochs' && JSON.stringify(requested[key]) !== JSON.stringify(saved[key]),
  );
  if (changed.length > 0) {
    throw new Error(
      `--resume continues ${run} as it was configured: ${changed.map(([flag, key]) => `--${flag} ${JSON.stringify(requested[key])} (the run has ${JSON.stringify(saved[key])})`).join(', ')} cannot change; leave ${changed.length > 1 ? 'them' : 'it'} out, or start a new run`,
    );
  }
  const epochs = a.epochs === undefined ? saved.epochs : requested.epochs;
  if (epochs < saved.epochs) throw new Error(`--epochs ${epochs}: ${run} is set for ${saved.epochs} epochs; --resume can make a run longer, not shorter`);
  const completed = Object.keys((readJsonFile(join(run, 'train_log.json'), '--resume') ?? {}) as object).length;
  if (completed >= epochs)
    throw new Error(`--resume: ${run} has completed its ${completed} epochs; to train it longer, give --epochs with more than ${completed}`);
  checkWritableFolder(run, '--resume');
  // The data must be what the run saw: checked here, before the run folder changes.
  const split = saved.val_split ? splitFolder(imageFolder(saved.data_train, '--data_train'), saved.val_split, saved.seed) : null;
  const folders = {
    train: { flag: '--data_train', folder: split?.train ?? imageFolder(saved.data_train, '--data_train') },
    val: { flag: split ? '--val-split' : '--data_val', folder: split?.val ?? imageFolder(saved.data_val, '--data_val') },
  };
  checkResumeData(infoPath, info, folders, (line) => console.log(line));
  for (const dir of [run, join(run, 'weights')]) {
    for (const name of removePartialFiles(dir)) console.log(`removed ${join(dir, name)}, left by an interrupted write`);
  }
  const config: TrainConfig = { ...saved, epochs, adapter: a.adapter ?? null, workers: requested.workers };
  if (config.epochs !== saved.epochs) {
    console.log(
      `--epochs ${config.epochs}: ${run} continues to ${config.epochs} epochs (was ${saved.epochs}); the cosine schedule runs over the new total from the next epoch on`,
    );
    writeJson(infoPath, { ...info, 'train parameters': { ...saved, epochs: config.epochs } });
  }
  return train(config, run);
}
