// The Train view's settings, by the names and with the defaults of `train`'s flags (src/train/settings.ts),
// checked with messages that name the setting, and turned into the loop's configuration. A page has no torch hub
// cache: the initial weights are random unless a weights file is chosen.

import { defaultWeightDecay, type OptimizerName, type TrainConfig } from '../../train/core.js';
import { OPTIMIZERS, SettingsError, settingChecks, TRAIN_DEFAULTS } from '../../train/settings.js';
import { WIDTHS, type Width } from '../../model/shufflenet.js';

export { SettingsError };

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
  model: TRAIN_DEFAULTS.model,
  epochs: TRAIN_DEFAULTS.epochs,
  'batch-size': TRAIN_DEFAULTS['batch-size'],
  'img-size': TRAIN_DEFAULTS['img-size'],
  optim: TRAIN_DEFAULTS.optim,
  lr: TRAIN_DEFAULTS.lr,
  lrf: TRAIN_DEFAULTS.lrf,
  seed: TRAIN_DEFAULTS.seed,
  augment: TRAIN_DEFAULTS.augment,
  balanced: TRAIN_DEFAULTS.balanced,
  freeze_layers: TRAIN_DEFAULTS.freeze_layers,
};

const { boolean, finalLrFraction, oneOf, positiveNumber, wholeNumber } = settingChecks('');

/** Settings from form values or a partial object (by the flags' names); the rest keep their defaults. */
export function parseSettings(values: Partial<Record<keyof TrainSettings, unknown>>): TrainSettings {
  const v = { ...DEFAULT_SETTINGS, ...Object.fromEntries(Object.entries(values).filter(([, x]) => x !== undefined)) } as Record<keyof TrainSettings, unknown>;
  return {
    model: oneOf('model', v.model, Object.keys(WIDTHS) as Width[]),
    epochs: wholeNumber('epochs', v.epochs, 1),
    'batch-size': wholeNumber('batch-size', v['batch-size'], 1),
    'img-size': wholeNumber('img-size', v['img-size'], 1),
    optim: oneOf('optim', v.optim, OPTIMIZERS),
    lr: positiveNumber('lr', v.lr),
    lrf: finalLrFraction(v.lrf),
    seed: wholeNumber('seed', v.seed, 0, 0xffffffff),
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
    shuffle: TRAIN_DEFAULTS.shuffle,
    momentum: TRAIN_DEFAULTS.momentum,
    weight_decay: defaultWeightDecay(s.optim),
    best_metric: TRAIN_DEFAULTS['best-metric'],
    balanced: s.balanced,
    frozen_bn: TRAIN_DEFAULTS['frozen-bn'],
    adapter: null,
  };
}
