// The Train view's settings, by the names and with the defaults of `train`'s flags, checked with
// messages that name the setting, and turned into the loop's configuration. A page has no torch hub
// cache: the initial weights are random unless a weights file is chosen.

import { defaultWeightDecay, type OptimizerName, type TrainConfig } from '../../train/core.js';
import { isWidth, type Width } from '../../model/shufflenet.js';

export interface TrainSettings {
  model: Width;
  epochs: number;
  'batch-size': number;
  'img-size': number;
  optim: OptimizerName;
  lr: number;
  lrf: number;
  seed: number;
  augment: boolean;
  balanced: boolean;
  freeze_layers: boolean;
}

export const DEFAULT_SETTINGS: TrainSettings = {
  model: 'x0_5',
  epochs: 10,
  'batch-size': 8,
  'img-size': 224,
  optim: 'SGD',
  lr: 0.01,
  lrf: 0.001,
  seed: 0,
  augment: true,
  balanced: false,
  freeze_layers: true,
};

const OPTIMIZERS: OptimizerName[] = ['SGD', 'Adam', 'AdamW'];

/** A setting that cannot be used; the message names it. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

function wholeNumber(name: string, value: unknown, min: number): number {
  const n = Number(value);
  if (value === '' || !Number.isInteger(n) || n < min) throw new SettingsError(`${name} must be a whole number of at least ${min}, not '${value}'`);
  return n;
}

function positive(name: string, value: unknown): number {
  const n = Number(value);
  if (value === '' || !(n > 0) || !Number.isFinite(n)) throw new SettingsError(`${name} must be a positive number, not '${value}'`);
  return n;
}

function boolean(name: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new SettingsError(`${name} takes true or false, not '${value}'`);
}

/** Settings from form values or a partial object (by the flags' names); the rest keep their defaults. */
export function parseSettings(values: Partial<Record<keyof TrainSettings, unknown>>): TrainSettings {
  const v = { ...DEFAULT_SETTINGS, ...Object.fromEntries(Object.entries(values).filter(([, x]) => x !== undefined)) } as Record<keyof TrainSettings, unknown>;
  if (!isWidth(String(v.model))) throw new SettingsError(`model must be one of x0_5, x1_0, x1_5, x2_0, not '${v.model}'`);
  if (!OPTIMIZERS.includes(v.optim as OptimizerName)) throw new SettingsError(`optim must be one of ${OPTIMIZERS.join(', ')}, not '${v.optim}'`);
  const lrf = positive('lrf', v.lrf);
  if (lrf > 1) throw new SettingsError(`lrf is the final learning rate as a fraction of lr, at most 1, not '${v.lrf}'`);
  return {
    model: v.model as Width,
    epochs: wholeNumber('epochs', v.epochs, 1),
    'batch-size': wholeNumber('batch-size', v['batch-size'], 1),
    'img-size': wholeNumber('img-size', v['img-size'], 1),
    optim: v.optim as OptimizerName,
    lr: positive('lr', v.lr),
    lrf,
    seed: wholeNumber('seed', v.seed, 0),
    augment: boolean('augment', v.augment),
    balanced: boolean('balanced', v.balanced),
    freeze_layers: boolean('freeze_layers', v.freeze_layers),
  };
}

/** The loop's configuration: `train`'s defaults for everything the view does not set. */
export function trainConfig(s: TrainSettings, data: { train: string; val: string }, weightsName: string | null): TrainConfig {
  return {
    model: s.model,
    pretrained: false,
    freeze_layers: s.freeze_layers,
    batch_size: s['batch-size'],
    epochs: s.epochs,
    optim: s.optim,
    lr: s.lr,
    lrf: s.lrf,
    save_ret: '',
    data_train: data.train,
    data_val: data.val,
    weights: weightsName,
    img_size: s['img-size'],
    seed: s.seed,
    workers: 0,
    augment: s.augment,
    shuffle: true,
    momentum: 0.9,
    weight_decay: defaultWeightDecay(s.optim),
    best_metric: 'accuracy',
    balanced: s.balanced,
    frozen_bn: 'train',
    adapter: null,
  };
}
