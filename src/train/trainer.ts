// The training run: data, model and optimizer set up from the configuration, then per epoch the
// cosine learning rate, a training pass (progress bar with loss, accuracy, images/s, ETA) and an
// evaluation on the validation set, with everything the run folder keeps written after each epoch.

import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../autograd/backend.js';
import { initBackend } from '../autograd/engine.js';
import { Adam, AdamW, type Optimizer, SGD } from '../autograd/optim.js';
import { intTensor, tensor } from '../autograd/ops/creation.js';
import { crossEntropy } from '../autograd/ops/nn.js';
import { backward, noGrad } from '../autograd/tape.js';
import { tidy } from '../autograd/tensor.js';
import { type Batch, DataLoader, type Failure } from '../data/loader.js';
import { classCounts, DatasetError, type ImageFolder, imageFolder, type Sample } from '../data/folder.js';
import { Rng } from '../data/rng.js';
import { writePth } from '../model/checkpoint/index.js';
import { checkBatchFits } from '../model/fits.js';
import { modelInfo } from '../model/info.js';
import { BatchNorm2d } from '../model/module.js';
import { softmax } from '../model/predict.js';
import { resolvePretrained } from '../model/pretrained.js';
import { ShuffleNetV2, type Width } from '../model/shufflenet.js';
import { stateDict } from '../model/state.js';
import { loadWeightsFile } from '../model/weights_file.js';
import { crossEntropy as crossEntropyReference } from '../reference/nn.js';
import { ProgressBar } from '../util/progress.js';
import { createRunDir, type PredictionRow, predictionsCsv, writeAtomic, writeJson } from './files.js';
import { BEST_METRICS, type BestMetric, type ConfusionMatrix, confusionMatrix, type EpochMetrics, epochMetrics } from './metrics.js';
import { renderConfusionMatrix } from './plot/confusion.js';
import { renderCurves } from './plot/curves.js';
import { loadResume, saveResume } from './resume.js';

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

/** The seed's schedule: lr * (((1 + cos(pi * e / E)) / 2) * (1 - lrf) + lrf) for epoch e of E. */
export function learningRate(c: Pick<TrainConfig, 'lr' | 'lrf' | 'epochs'>, epoch: number): number {
  return c.lr * (((1 + Math.cos((Math.PI * epoch) / c.epochs)) / 2) * (1 - c.lrf) + c.lrf);
}

export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, cpus().length - 1));
}

function makeOptimizer(c: TrainConfig, model: ShuffleNetV2): Optimizer {
  const params = model.namedParameters().filter(([, p]) => p.requiresGrad).map(([, p]) => p);
  if (c.optim === 'SGD') return new SGD(params, { lr: c.lr, momentum: c.momentum, weightDecay: c.weight_decay });
  if (c.optim === 'Adam') return new Adam(params, { lr: c.lr, weightDecay: c.weight_decay });
  return new AdamW(params, { lr: c.lr, weightDecay: c.weight_decay });
}

function checkClasses(train: ImageFolder, val: ImageFolder): void {
  if (train.classes.join('\n') !== val.classes.join('\n')) {
    throw new DatasetError(`--data_train and --data_val have different classes: train has [${train.classes.join(', ')}], val has [${val.classes.join(', ')}]`);
  }
}

export interface RunContext {
  config: TrainConfig;
  runDir: string;
  log: (line: string) => void;
}

/** Runs (or, with resumeDir, continues) a training run; returns the run folder. */
export async function train(config: TrainConfig, resumeDir?: string, log: (line: string) => void = (l) => console.log(l)): Promise<string> {
  const backend = await initBackend(config.adapter ?? undefined);
  log(`adapter: ${describeBackend(backend)}`);
  const trainFolder = imageFolder(config.data_train, '--data_train');
  const valFolder = imageFolder(config.data_val, '--data_val');
  checkClasses(trainFolder, valFolder);
  const classes = trainFolder.classes;

  const loader = new DataLoader({ imgSize: config.img_size, workers: config.workers, seed: config.seed });
  try {
    const [trainSet, valSet, skipped] = await scanDatasets(loader, trainFolder, valFolder, log);
    const model = new ShuffleNetV2(config.model, classes.length, seededRandom(config.seed));
    checkBatchFits(backend, model, config.batch_size, config.img_size);
    if (trainSet.length > 1 && trainSet.length % config.batch_size === 1) log(`the last training batch would hold one image: it is left out of every epoch (batch norm in training mode needs more than one value per channel)`);
    if (!resumeDir) await initialWeights(model, config, log);
    if (config.freeze_layers) model.freezeBackbone();
    const optimizer = makeOptimizer(config, model);
    const runDir = resumeDir ?? createRunDir(config.save_ret);
    const resumePath = join(runDir, 'weights', 'resume.safetensors');
    let state: LoopState = { epoch: -1, best: null, log: {}, curves: { trainLoss: [], valLoss: [], trainAccuracy: [], valAccuracy: [], lr: [] } };
    if (resumeDir) {
      state = loadResume<LoopState>(resumePath, model, optimizer);
      log(`resuming ${runDir} after epoch ${state.epoch}`);
    } else {
      writeJson(join(runDir, 'class_indices.json'), Object.fromEntries(classes.map((c, i) => [String(i), c])));
      writeJson(join(runDir, 'train_info.json'), {
        'train parameters': { ...config, adapter: describeBackend(backend) },
        dataset: {
          classes: Object.fromEntries(classes.map((c, i) => [String(i), c])),
          train: { total: trainSet.length, ...classCounts({ ...trainFolder, samples: trainSet }) },
          val: { total: valSet.length, ...classCounts({ ...valFolder, samples: valSet }) },
          'skipped files': skipped,
        },
        model: modelInfo(model, config.img_size),
      });
    }
    const ctx: RunContext = { config, runDir, log };
    for (let epoch = state.epoch + 1; epoch < config.epochs; epoch++) {
      optimizer.lr = learningRate(config, epoch);
      const started = performance.now();
      const trainResult = await trainEpoch(ctx, model, optimizer, loader, trainSet, classes, epoch);
      const valResult = await evaluate(ctx, model, loader, valSet, classes, epoch);
      const seconds = (performance.now() - started) / 1000;
      state = recordEpoch(ctx, state, epoch, optimizer.lr, trainResult, valResult, classes);
      writeAtomic(join(runDir, 'weights', 'last.pth'), writePth(await stateDict(model)));
      if (state.best?.epoch === epoch) writeAtomic(join(runDir, 'weights', 'best.pth'), writePth(await stateDict(model)));
      await saveResume(resumePath, model, optimizer, state);
      log(`epoch ${epoch}/${config.epochs - 1}: train loss ${trainResult.metrics.loss.toFixed(4)} acc ${trainResult.metrics.accuracy.toFixed(4)} | val loss ${valResult.metrics.loss.toFixed(4)} acc ${valResult.metrics.accuracy.toFixed(4)} f1 ${valResult.metrics['mean f1 score'].toFixed(4)} balanced ${valResult.metrics['balanced accuracy'].toFixed(4)} | lr ${optimizer.lr.toExponential(3)} | ${seconds.toFixed(1)} s`);
    }
    if (skipped.length > 0) log(`left out ${skipped.length} unreadable image${skipped.length > 1 ? 's' : ''}: ${skipped.map((s) => s.file).join(', ')}`);
    const best = state.best!;
    log(`best epoch ${best.epoch} (val ${BEST_METRICS[config.best_metric]} ${best.value.toFixed(4)}); results in ${runDir}`);
    return runDir;
  } finally {
    await loader.close();
  }
}

function describeBackend(backend: Backend): string {
  const a = backend.adapter;
  return a ? `${a.device || a.description} (${a.description}, ${a.backend})` : 'CPU reference';
}

/** Uniform [0, 1) numbers from the run seed, for the initial weights. */
function seededRandom(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

async function initialWeights(model: ShuffleNetV2, c: TrainConfig, log: (line: string) => void): Promise<void> {
  const source = c.weights ?? (c.pretrained ? await resolvePretrained(c.model) : null);
  if (!source) {
    log('starting from random weights (--pretrained false)');
    return;
  }
  await loadWeightsFile(model, source, true, log);
  log(`loaded weights from ${source}`);
}

async function scanDatasets(loader: DataLoader, train: ImageFolder, val: ImageFolder, log: (line: string) => void): Promise<[Sample[], Sample[], Failure[]]> {
  const skipped: Failure[] = [];
  const sets: Sample[][] = [];
  for (const [name, folder] of [['train', train], ['val', val]] as const) {
    const bar = new ProgressBar({ total: folder.samples.length, label: `reading ${name} images`, unit: 'img' });
    let seen = 0;
    const { readable, failures } = await loader.scan(folder.samples, (done) => {
      bar.tick(done - seen);
      seen = done;
    });
    bar.finish();
    for (const f of failures) log(`warning: ${f.message} — left out of the run`);
    skipped.push(...failures);
    if (readable.length === 0) throw new DatasetError(`${name === 'train' ? '--data_train' : '--data_val'}: none of the ${folder.samples.length} images in ${folder.root} could be read`);
    sets.push(readable);
  }
  return [sets[0], sets[1], skipped];
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
    for (const m of model.modules()) if (m instanceof BatchNorm2d) m.training = false;
  }
}

async function trainEpoch(ctx: RunContext, model: ShuffleNetV2, optimizer: Optimizer, loader: DataLoader, samples: Sample[], classes: string[], epoch: number): Promise<PassResult> {
  const c = ctx.config;
  setTrainMode(model, c);
  const bar = new ProgressBar({ total: samples.length, label: `epoch ${epoch} train`, unit: 'img' });
  const labels: number[] = [];
  const predictions: number[] = [];
  let lossSum = 0;
  let steps = 0;
  let correct = 0;
  // Step i's logits are read back (the one readback of a step; the loss is worked out from them on
  // the CPU) while step i + 1 is recorded and runs on the GPU.
  let pending: Promise<void> | null = null;
  for await (const batch of loader.batches(samples, { batchSize: c.batch_size, epoch, shuffle: c.shuffle, augment: c.augment, balanced: c.balanced, dropLoneLast: true, onFailure: (f) => ctx.log(`warning: ${f.message}`) })) {
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
        const kept = epoch > 0 ? `the weights of epoch ${epoch - 1} are kept in ${ctx.runDir}/weights (last.pth; resume.safetensors continues from there)` : 'no epoch had completed, so no weights were saved';
        throw new TrainingStopped(`the training loss became ${value} at epoch ${epoch}, step ${step + 1}; training stopped (try a lower --lr): ${kept}`);
      }
      lossSum += value;
      for (let i = 0; i < batch.size; i++) {
        const row = Array.from(logitValues.subarray(i * classes.length, (i + 1) * classes.length));
        const p = row.indexOf(Math.max(...row));
        labels.push(batch.labels[i]);
        predictions.push(p);
        if (p === batch.labels[i]) correct++;
      }
      bar.tick(batch.size, `loss ${(lossSum / (step + 1)).toFixed(4)} acc ${(correct / labels.length).toFixed(4)}`);
    });
    if (pending) await pending;
    pending = readBack;
  }
  if (pending) await pending;
  bar.finish(`loss ${(lossSum / Math.max(steps, 1)).toFixed(4)} acc ${(correct / Math.max(labels.length, 1)).toFixed(4)}`);
  const confusion = confusionMatrix(labels, predictions, classes.length);
  return { metrics: epochMetrics(confusion, classes, lossSum / Math.max(steps, 1)), confusion, predictions: [] };
}

/** The mean softmax cross-entropy of a batch, from its logits (the CPU reference's, in float64). */
function meanCrossEntropy(logits: ArrayLike<number>, labels: Int32Array, classes: number): number {
  return crossEntropyReference(Float64Array.from(logits), labels, labels.length, classes);
}

async function evaluate(ctx: RunContext, model: ShuffleNetV2, loader: DataLoader, samples: Sample[], classes: string[], epoch: number): Promise<PassResult> {
  const c = ctx.config;
  model.eval();
  const bar = new ProgressBar({ total: samples.length, label: `epoch ${epoch} val`, unit: 'img' });
  const rows: PredictionRow[] = [];
  let lossSum = 0;
  let batches = 0;
  for await (const batch of loader.batches(samples, { batchSize: c.batch_size, epoch, shuffle: false, augment: false })) {
    const logits = tidy(() => noGrad(() => model.forward(tensor(batch.images, [batch.size, 3, c.img_size, c.img_size]))));
    const logitValues = await logits.data();
    logits.dispose();
    lossSum += meanCrossEntropy(logitValues, batch.labels, classes.length);
    batches++;
    for (let i = 0; i < batch.size; i++) {
      rows.push({ file: batch.files[i], label: batch.labels[i], probabilities: softmax(logitValues.subarray(i * classes.length, (i + 1) * classes.length)) });
    }
    bar.tick(batch.size);
  }
  bar.finish();
  const predicted = rows.map((r) => r.probabilities.indexOf(Math.max(...r.probabilities)));
  const confusion = confusionMatrix(rows.map((r) => r.label), predicted, classes.length);
  return { metrics: epochMetrics(confusion, classes, lossSum / Math.max(batches, 1)), confusion, predictions: rows };
}

function recordEpoch(ctx: RunContext, state: LoopState, epoch: number, lr: number, trainResult: PassResult, valResult: PassResult, classes: string[]): LoopState {
  const key = BEST_METRICS[ctx.config.best_metric];
  const value = valResult.metrics[key] as number;
  const improved = !state.best || value > state.best.value;
  const next: LoopState = {
    epoch,
    best: improved ? { epoch, value, trainConfusion: trainResult.confusion, valConfusion: valResult.confusion, valPredictions: valResult.predictions } : state.best,
    log: { ...state.log, [`epoch:${epoch}`]: { lr, 'train info': trainResult.metrics, 'valid info': valResult.metrics } },
    curves: {
      trainLoss: [...state.curves.trainLoss, trainResult.metrics.loss],
      valLoss: [...state.curves.valLoss, valResult.metrics.loss],
      trainAccuracy: [...state.curves.trainAccuracy, trainResult.metrics.accuracy],
      valAccuracy: [...state.curves.valAccuracy, valResult.metrics.accuracy],
      lr: [...state.curves.lr, lr],
    },
  };
  writeJson(join(ctx.runDir, 'train_log.json'), next.log);
  if (improved) writeAtomic(join(ctx.runDir, 'val_predictions.csv'), predictionsCsv(valResult.predictions, classes));
  writePictures(ctx, next, classes);
  return next;
}

function writePictures(ctx: RunContext, state: LoopState, classes: string[]): void {
  if (!state.best) return;
  const { epoch, trainConfusion, valConfusion } = state.best;
  writeAtomic(join(ctx.runDir, 'confusion_matrix_train.png'), renderConfusionMatrix(trainConfusion, classes, `Training set, best epoch (${epoch})`));
  writeAtomic(join(ctx.runDir, 'confusion_matrix_val.png'), renderConfusionMatrix(valConfusion, classes, `Validation set, best epoch (${epoch})`));
  const curves = state.curves;
  writeAtomic(join(ctx.runDir, 'curves.png'), renderCurves([
    { title: 'Loss', yLabel: 'cross-entropy', series: [{ label: 'train', values: curves.trainLoss }, { label: 'val', values: curves.valLoss }] },
    { title: 'Accuracy', yLabel: 'accuracy', series: [{ label: 'train', values: curves.trainAccuracy }, { label: 'val', values: curves.valAccuracy }] },
    { title: 'Learning rate', yLabel: 'learning rate', series: [{ label: 'lr', values: curves.lr }] },
  ]));
}
