// The training loop, platform-neutral (Node and browsers alike; no Node APIs): model, optimizer and
// cosine schedule from the configuration; per epoch a training pass over the seeded epoch order
// (balanced sampling and augmentation as configured), an evaluation on the validation set, the
// seed's metrics, best/last selection, confusion matrices, predictions and plots. The samples come
// from a BatchLoader (whatever decodes them: worker threads, a Web Worker); everything the run keeps
// goes to a RunSink (a run folder on disk, or memory and downloads in a page).

import { getBackend } from '../autograd/default_backend.js';
import { Adam, AdamW, type Optimizer, SGD } from '../autograd/optim.js';
import { intTensor, tensor } from '../autograd/ops/creation.js';
import { crossEntropy } from '../autograd/ops/nn.js';
import { backward } from '../autograd/tape.js';
import { tidy } from '../autograd/tensor.js';
import type { Batch, BatchLoader, Failure } from '../data/batches.js';
import { checkClassCount, classCounts, classesWithout, DatasetError, type Sample } from '../data/dataset.js';
import { Rng } from '../data/rng.js';
import { type StateDict, writePth } from '../model/checkpoint/index.js';
import { checkBatchFits } from '../model/fits.js';
import { modelInfo } from '../model/info.js';
import { evalBatchNorms } from '../model/module.js';
import { discardRecordedForward, evaluateLogits, softmax } from '../model/predict.js';
import { ShuffleNetV2, type Width } from '../model/shufflenet.js';
import { checkFinite, loadStateDictLogged, stateDict } from '../model/state.js';
import { BEST_METRICS, type BestMetric, type ConfusionMatrix, confusionMatrix, type EpochMetrics, epochMetrics, meanCrossEntropy } from './metrics.js';
import { renderConfusionMatrix } from './plot/confusion.js';
import { renderCurves } from './plot/curves.js';
import { type PredictionRow, predictionsCsv } from './predictions.js';
import { restoreResume, resumeCheckpoint } from './resume.js';

export type OptimizerName = 'SGD' | 'Adam' | 'AdamW';

export interface TrainConfig {
  model: Width;
  pretrained: boolean;
  freeze_layers: boolean;
  batch_size: number;
  epochs: number;
  optim: OptimizerName;
  lr: number;
  lrf: number;
  save_ret: string;
  data_train: string;
  data_val: string;
  /** Validation as this fraction of --data_train (a seeded stratified split) instead of data_val; null: data_val. */
  val_split?: number | null;
  weights: string | null;
  img_size: number;
  seed: number;
  workers: number;
  augment: boolean;
  shuffle: boolean;
  momentum: number;
  weight_decay: number;
  best_metric: BestMetric;
  /** Training batches drawn so that every class is equally likely (for imbalanced data). */
  balanced: boolean;
  /** With a frozen backbone: its batch norms in train mode (PyTorch's semantics) or in eval mode. */
  frozen_bn: 'train' | 'eval';
  adapter: string | null;
}

/** One split of the data: its samples, where they came from and the name messages give it (e.g. '--data_train'). */
export interface Split {
  name: string;
  root: string;
  samples: Sample[];
}

/** The classes (index -> name) and the two splits, already checked to have the same classes. */
export interface TrainingData {
  classes: string[];
  train: Split;
  val: Split;
}

/** A progress display for one pass: `tick` advances it, `finish` draws the final state. */
export interface Progress {
  tick(n: number, extra?: string): void;
  finish(extra?: string): void;
}

/** What one completed epoch gives a live display. */
export interface EpochReport {
  epoch: number;
  lr: number;
  train: EpochMetrics;
  val: EpochMetrics;
  seconds: number;
  best: { epoch: number; value: number; valConfusion: ConfusionMatrix };
}

/** Where a run's results go. */
export interface RunSink {
  /** Creates the run's place (once the data are known to be readable); returns how messages name it. */
  open(): Promise<string>;
  /** Writes one of the run's files, atomically (`name` relative to the run: 'train_log.json', 'weights/last.pth'). */
  write(name: string, data: Uint8Array | string): void | Promise<void>;
  log(line: string): void;
  progress(label: string, total: number): Progress;
  /** Called with every training step's loss, once it is read back. */
  stepDone?(epoch: number, step: number, loss: number): void;
  /** Called after every completed epoch, once its files are written. */
  epochDone?(report: EpochReport): void;
}

export interface TrainRun {
  config: TrainConfig;
  /** The adapter as train_info.json names it. */
  adapter: string;
  data: TrainingData;
  loader: BatchLoader;
  sink: RunSink;
  /** The initial weights (not asked for when resuming): a state dict and its source's name, or null for random ones. */
  initialWeights(): Promise<{ state: StateDict; source: string } | null>;
  /** Continue the run from this resume checkpoint. */
  resume?: { bytes: Uint8Array; source: string };
  /** What identifies the data the run saw (recorded in train_info.json, checked by --resume); where the platform has one. */
  fingerprint?: unknown;
  /** Checked before every training step; true ends the run with TrainingStopped (the last completed epoch's files stay). */
  stopRequested?(): boolean;
}

/** The loop's own state, saved with each resume checkpoint. */
interface LoopState {
  epoch: number;
  best: { epoch: number; value: number; trainConfusion: ConfusionMatrix; valConfusion: ConfusionMatrix; valPredictions: PredictionRow[] } | null;
  log: Record<string, { lr: number; 'train info': EpochMetrics; 'valid info': EpochMetrics }>;
  curves: { trainLoss: number[]; valLoss: number[]; trainAccuracy: number[]; valAccuracy: number[]; lr: number[] };
}

export class TrainingStopped extends Error {
  override name = 'TrainingStopped';
}

export const RESUME_FILE = 'weights/resume.safetensors';

/** The weight decay when none is given: 4e-5 for SGD, 0 for Adam, 0.01 for AdamW. */
export function defaultWeightDecay(optim: OptimizerName): number {
  return optim === 'SGD' ? 4e-5 : optim === 'Adam' ? 0 : 0.01;
}

/** The seed's schedule: lr * (((1 + cos(pi * e / E)) / 2) * (1 - lrf) + lrf) for epoch e of E. */
export function learningRate(c: Pick<TrainConfig, 'lr' | 'lrf' | 'epochs'>, epoch: number): number {
  return c.lr * (((1 + Math.cos((Math.PI * epoch) / c.epochs)) / 2) * (1 - c.lrf) + c.lrf);
}

/** Throws a DatasetError unless both splits have the same classes, in the same order. */
export function checkClasses(train: { name: string; classes: string[] }, val: { name: string; classes: string[] }): void {
  if (train.classes.join('\n') !== val.classes.join('\n')) {
    throw new DatasetError(
      `${train.name} and ${val.name} have different classes: train has [${train.classes.join(', ')}], val has [${val.classes.join(', ')}]`,
    );
  }
}

function makeOptimizer(c: TrainConfig, model: ShuffleNetV2): Optimizer {
  const params = model
    .namedParameters()
    .filter(([, p]) => p.requiresGrad)
    .map(([, p]) => p);
  if (c.optim === 'SGD') return new SGD(params, { lr: c.lr, momentum: c.momentum, weightDecay: c.weight_decay });
  if (c.optim === 'Adam') return new Adam(params, { lr: c.lr, weightDecay: c.weight_decay });
  return new AdamW(params, { lr: c.lr, weightDecay: c.weight_decay });
}

/** Uniform [0, 1) numbers from the run seed, for the initial weights. */
function seededRandom(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

interface Context {
  config: TrainConfig;
  sink: RunSink;
  location: string;
  classes: string[];
}

/** Runs (or, with run.resume, continues) a training run; returns the run's location as the sink names it. */
export async function runTraining(run: TrainRun): Promise<string> {
  const { config, data, loader, sink } = run;
  const classes = data.classes;
  checkClassCount({ root: data.train.root, classes }, data.train.name);
  const [trainSet, valSet, skipped] = await scanDatasets(loader, data, sink);
  const model = new ShuffleNetV2(config.model, classes.length, seededRandom(config.seed));
  checkBatchFits(getBackend(), model, config.batch_size, config.img_size);
  if (trainSet.length > 1 && trainSet.length % config.batch_size === 1) {
    sink.log('the last training batch would hold one image: it is left out of every epoch (batch norm in training mode needs more than one value per channel)');
  }
  if (!run.resume) {
    const initial = await run.initialWeights();
    if (!initial) sink.log('starting from random weights (--pretrained false)');
    else {
      checkFinite(initial.state, initial.source);
      loadStateDictLogged(model, initial.state, { allowNewClassifier: true, source: initial.source }, (line) => sink.log(line));
      sink.log(`loaded weights from ${initial.source}`);
    }
  }
  if (config.freeze_layers) model.freezeBackbone();
  const optimizer = makeOptimizer(config, model);
  const location = await sink.open();
  const ctx: Context = { config, sink, location, classes };
  let state: LoopState = { epoch: -1, best: null, log: {}, curves: { trainLoss: [], valLoss: [], trainAccuracy: [], valAccuracy: [], lr: [] } };
  if (run.resume) {
    state = restoreResume<LoopState>(run.resume.bytes, run.resume.source, model, optimizer);
    sink.log(`resuming ${location} after epoch ${state.epoch}`);
  } else {
    const classIndices = Object.fromEntries(classes.map((c, i) => [String(i), c]));
    await sink.write('class_indices.json', json(classIndices));
    await sink.write(
      'train_info.json',
      json({
        'train parameters': { ...config, adapter: run.adapter },
        dataset: {
          classes: classIndices,
          train: { total: trainSet.length, ...classCounts({ root: data.train.root, classes, samples: trainSet }) },
          val: { total: valSet.length, ...classCounts({ root: data.val.root, classes, samples: valSet }) },
          'skipped files': skipped,
          ...(run.fingerprint ? { fingerprint: run.fingerprint } : {}),
        },
        model: modelInfo(model, config.img_size),
      }),
    );
  }
  for (let epoch = state.epoch + 1; epoch < config.epochs; epoch++) {
    optimizer.lr = learningRate(config, epoch);
    const started = performance.now();
    const trainResult = await trainEpoch(ctx, model, optimizer, loader, trainSet, epoch, run.stopRequested);
    const valResult = await evaluate(ctx, model, loader, valSet, epoch);
    const seconds = (performance.now() - started) / 1000;
    state = await recordEpoch(ctx, state, epoch, optimizer.lr, trainResult, valResult);
    const weights = writePth(await stateDict(model));
    await sink.write('weights/last.pth', weights);
    if (state.best?.epoch === epoch) await sink.write('weights/best.pth', weights);
    await sink.write(RESUME_FILE, await resumeCheckpoint(model, optimizer, state));
    sink.log(
      `epoch ${epoch}/${config.epochs - 1}: train loss ${trainResult.metrics.loss.toFixed(4)} acc ${trainResult.metrics.accuracy.toFixed(4)} | val loss ${valResult.metrics.loss.toFixed(4)} acc ${valResult.metrics.accuracy.toFixed(4)} f1 ${valResult.metrics['mean f1 score'].toFixed(4)} balanced ${valResult.metrics['balanced accuracy'].toFixed(4)} | lr ${optimizer.lr.toExponential(3)} | ${seconds.toFixed(1)} s`,
    );
    const best = state.best!;
    sink.epochDone?.({
      epoch,
      lr: optimizer.lr,
      train: trainResult.metrics,
      val: valResult.metrics,
      seconds,
      best: { epoch: best.epoch, value: best.value, valConfusion: best.valConfusion },
    });
  }
  if (skipped.length > 0) sink.log(`left out ${skipped.length} unreadable image${skipped.length > 1 ? 's' : ''}: ${skipped.map((s) => s.file).join(', ')}`);
  const best = state.best!;
  sink.log(`best epoch ${best.epoch} (val ${BEST_METRICS[config.best_metric]} ${best.value.toFixed(4)}); results in ${location}`);
  return location;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

async function scanDatasets(loader: BatchLoader, data: TrainingData, sink: RunSink): Promise<[Sample[], Sample[], Failure[]]> {
  const skipped: Failure[] = [];
  const sets: Sample[][] = [];
  for (const [name, split] of [
    ['train', data.train],
    ['val', data.val],
  ] as const) {
    const bar = sink.progress(`reading ${name} images`, split.samples.length);
    let seen = 0;
    const { readable, failures } = await loader.scan(split.samples, (done) => {
      bar.tick(done - seen);
      seen = done;
    });
    bar.finish();
    for (const f of failures) sink.log(`warning: ${f.message} — left out of the run`);
    skipped.push(...failures);
    if (readable.length === 0) throw new DatasetError(`${split.name}: none of the ${split.samples.length} images in ${split.root} could be read`);
    checkReadableClasses(name, split, data.classes, readable, sink);
    sets.push(readable);
  }
  return [sets[0], sets[1], skipped];
}

/** Every class needs a readable training image; a validation class without one only makes its recall meaningless. */
function checkReadableClasses(which: 'train' | 'val', split: Split, classes: string[], readable: Sample[], sink: RunSink): void {
  const missing = classesWithout(classes, readable);
  if (missing.length === 0) return;
  const list = missing.map((c) => `'${c}'`).join(', ');
  if (which === 'train')
    throw new DatasetError(`${split.name}: class ${list} has no readable image in ${split.root} (every one failed to decode, see above): fix or replace them`);
  sink.log(`warning: ${split.name}: class ${list} has no readable image in ${split.root}: its validation metrics count as 0`);
}

/** What a stopped run leaves, for its message. */
function keptWeights(ctx: Context, epoch: number): string {
  return epoch > 0
    ? `the weights of epoch ${epoch - 1} are kept in ${ctx.location}/weights (last.pth; resume.safetensors continues from there)`
    : 'no epoch had completed, so no weights were saved';
}

interface PassResult {
  metrics: EpochMetrics;
  confusion: ConfusionMatrix;
  predictions: PredictionRow[];
}

/** Batches as GPU tensors. */
function batchTensors(b: Batch, imgSize: number) {
  return { x: tensor(b.images, [b.size, 3, imgSize, imgSize]), y: intTensor(b.labels) };
}

function setTrainMode(model: ShuffleNetV2, c: TrainConfig): void {
  model.train();
  if (c.freeze_layers && c.frozen_bn === 'eval') {
    evalBatchNorms(model);
  }
}

async function trainEpoch(
  ctx: Context,
  model: ShuffleNetV2,
  optimizer: Optimizer,
  loader: BatchLoader,
  samples: Sample[],
  epoch: number,
  stopRequested?: () => boolean,
): Promise<PassResult> {
  const { config: c, classes } = ctx;
  setTrainMode(model, c);
  const bar = ctx.sink.progress(`epoch ${epoch} train`, samples.length);
  const labels: number[] = [];
  const predictions: number[] = [];
  let lossSum = 0;
  let steps = 0;
  let correct = 0;
  // Step i's logits are read back (the one readback of a step; the loss is worked out from them on
  // the CPU) while step i + 1 is recorded and runs on the GPU.
  let pending: Promise<void> | null = null;
  for await (const batch of loader.batches(samples, {
    batchSize: c.batch_size,
    epoch,
    shuffle: c.shuffle,
    augment: c.augment,
    balanced: c.balanced,
    dropLoneLast: true,
    onFailure: (f) => ctx.sink.log(`warning: ${f.message}`),
  })) {
    if (stopRequested?.()) {
      if (pending) await pending;
      throw new TrainingStopped(`training stopped at epoch ${epoch}, step ${steps + 1}, as asked: ${keptWeights(ctx, epoch)}`);
    }
    const step = steps++;
    const logits = tidy(() => {
      const { x, y } = batchTensors(batch, c.img_size);
      optimizer.zeroGrad();
      const logits = model.forward(x);
      backward(crossEntropy(logits, y));
      optimizer.step();
      return logits;
    });
    const readBack = logits.data().then((logitValues) => {
      logits.dispose();
      const value = meanCrossEntropy(logitValues, batch.labels, classes.length);
      if (!Number.isFinite(value)) {
        throw new TrainingStopped(
          `the training loss became ${value} at epoch ${epoch}, step ${step + 1}; training stopped (try a lower --lr): ${keptWeights(ctx, epoch)}`,
        );
      }
      lossSum += value;
      ctx.sink.stepDone?.(epoch, step, value);
      for (let i = 0; i < batch.size; i++) {
        const row = Array.from(logitValues.subarray(i * classes.length, (i + 1) * classes.length));
        const p = row.indexOf(Math.max(...row));
        labels.push(batch.labels[i]);
        predictions.push(p);
        if (p === batch.labels[i]) correct++;
      }
      bar.tick(batch.size, `loss ${(lossSum / (step + 1)).toFixed(4)} acc ${(correct / labels.length).toFixed(4)}`);
    });
    readBack.catch(() => undefined); // handled: awaited below, after the next batch is recorded
    if (pending) await pending;
    pending = readBack;
  }
  if (pending) await pending;
  bar.finish(`loss ${(lossSum / Math.max(steps, 1)).toFixed(4)} acc ${(correct / Math.max(labels.length, 1)).toFixed(4)}`);
  const confusion = confusionMatrix(labels, predictions, classes.length);
  return { metrics: epochMetrics(confusion, classes, lossSum / Math.max(steps, 1)), confusion, predictions: [] };
}

async function evaluate(ctx: Context, model: ShuffleNetV2, loader: BatchLoader, samples: Sample[], epoch: number): Promise<PassResult> {
  const { config: c, classes } = ctx;
  const bar = ctx.sink.progress(`epoch ${epoch} val`, samples.length);
  const rows: PredictionRow[] = [];
  let lossSum = 0;
  let batches = 0;
  // The forward is recorded at the first batch (and at a smaller last one) and replayed for the rest;
  // its buffers go back to the pool before training goes on.
  try {
    for await (const batch of loader.batches(samples, { batchSize: c.batch_size, epoch, shuffle: false, augment: false })) {
      const logitValues = await evaluateLogits(model, batch.images, [batch.size, 3, c.img_size, c.img_size]);
      const loss = meanCrossEntropy(logitValues, batch.labels, classes.length);
      if (!Number.isFinite(loss))
        throw new TrainingStopped(`the validation loss became ${loss} at epoch ${epoch}; training stopped (try a lower --lr): ${keptWeights(ctx, epoch)}`);
      lossSum += loss;
      batches++;
      for (let i = 0; i < batch.size; i++) {
        rows.push({ file: batch.files[i], label: batch.labels[i], probabilities: softmax(logitValues.subarray(i * classes.length, (i + 1) * classes.length)) });
      }
      bar.tick(batch.size);
    }
  } finally {
    discardRecordedForward(model);
  }
  bar.finish();
  const predicted = rows.map((r) => r.probabilities.indexOf(Math.max(...r.probabilities)));
  const confusion = confusionMatrix(
    rows.map((r) => r.label),
    predicted,
    classes.length,
  );
  return { metrics: epochMetrics(confusion, classes, lossSum / Math.max(batches, 1)), confusion, predictions: rows };
}

async function recordEpoch(ctx: Context, state: LoopState, epoch: number, lr: number, trainResult: PassResult, valResult: PassResult): Promise<LoopState> {
  const key = BEST_METRICS[ctx.config.best_metric];
  const value = valResult.metrics[key] as number;
  const improved = !state.best || value > state.best.value;
  const next: LoopState = {
    epoch,
    best: improved
      ? { epoch, value, trainConfusion: trainResult.confusion, valConfusion: valResult.confusion, valPredictions: valResult.predictions }
      : state.best,
    log: { ...state.log, [`epoch:${epoch}`]: { lr, 'train info': trainResult.metrics, 'valid info': valResult.metrics } },
    curves: {
      trainLoss: [...state.curves.trainLoss, trainResult.metrics.loss],
      valLoss: [...state.curves.valLoss, valResult.metrics.loss],
      trainAccuracy: [...state.curves.trainAccuracy, trainResult.metrics.accuracy],
      valAccuracy: [...state.curves.valAccuracy, valResult.metrics.accuracy],
      lr: [...state.curves.lr, lr],
    },
  };
  await ctx.sink.write('train_log.json', json(next.log));
  if (improved) await ctx.sink.write('val_predictions.csv', predictionsCsv(valResult.predictions, ctx.classes));
  await writePictures(ctx, next);
  return next;
}

async function writePictures(ctx: Context, state: LoopState): Promise<void> {
  if (!state.best) return;
  const { epoch, trainConfusion, valConfusion } = state.best;
  await ctx.sink.write('confusion_matrix_train.png', renderConfusionMatrix(trainConfusion, ctx.classes, `Training set, best epoch (${epoch})`));
  await ctx.sink.write('confusion_matrix_val.png', renderConfusionMatrix(valConfusion, ctx.classes, `Validation set, best epoch (${epoch})`));
  const curves = state.curves;
  await ctx.sink.write(
    'curves.png',
    renderCurves([
      {
        title: 'Loss',
        yLabel: 'cross-entropy',
        series: [
          { label: 'train', values: curves.trainLoss },
          { label: 'val', values: curves.valLoss },
        ],
      },
      {
        title: 'Accuracy',
        yLabel: 'accuracy',
        series: [
          { label: 'train', values: curves.trainAccuracy },
          { label: 'val', values: curves.valAccuracy },
        ],
      },
      { title: 'Learning rate', yLabel: 'learning rate', series: [{ label: 'lr', values: curves.lr }] },
    ]),
  );
}
