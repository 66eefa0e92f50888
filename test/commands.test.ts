// The commands a PyTorch user expects, run as a user runs them: `predict --run` (the run folder's
// model, classes and image size), `evaluate` (against metrics recomputed here from `predict --json`),
// `export` (ONNX checked in ONNX Runtime against `predict`'s logits; safetensors and .pth read back),
// and `train --val-split` (the split the run folder lists is the seeded stratified one).

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { decodeImage } from '../src/data/decode.js';
import { imageFolder } from '../src/data/folder.js';
import { stratifiedSplit } from '../src/data/split.js';
import { evalTransform } from '../src/data/transforms.js';
import { readCheckpoint, writePth } from '../src/model/checkpoint/index.js';
import { ShuffleNetV2 } from '../src/model/shufflenet.js';
import { deterministicState } from './helpers/deterministic.js';
import { recalibrateBatchNorm } from './helpers/recalibrate.js';

const run = promisify(execFile);
const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const DATASETS = new URL('../../shared/datasets/', import.meta.url).pathname;
const IMG_SIZE = 64;

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('node', [CLI, ...args], { maxBuffer: 1 << 26 });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

interface Predicted {
  file: string;
  index: number;
  class: string;
  probabilities: number[];
  logits: number[];
}

async function predictJson(...args: string[]): Promise<Predicted[]> {
  const { stdout, stderr, code } = await cli('predict', '--adapter', 'cpu', '--json', ...args);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout);
}

let dir = '';
let runDir = '';
let data = '';
let images: string[] = [];
const labelOf = (file: string) => Number(file.split('/').at(-2));

/**
 * A test set of 12 real images (symlinks to udtn-sample's val and smalltest, classes 0 and 1) and a
 * run folder with deterministic weights whose classifier is scaled and shifted so that the logit
 * margins over those images span 4, and 4 of the 12 are predicted as class 0 (a confusion matrix
 * that is neither diagonal nor symmetric), with probabilities far from 0.5 (a loss that tells labels
 * apart).
 * `natural.pth` is the same without the change to the classifier, for the ONNX comparison.
 */
beforeAll(async () => {
  if (!readFileSync(join(DATASETS, 'README.md'), 'utf8')) throw new Error(`the datasets are missing: put them in ${DATASETS}`);
  dir = mkdtempSync(join(tmpdir(), 'commands-'));
  data = join(dir, 'test');
  for (const split of ['val', 'smalltest']) {
    for (const label of ['0', '1']) {
      const folder = imageFolder(join(DATASETS, 'udtn-sample', split), '--data');
      mkdirSync(join(data, label), { recursive: true });
      for (const s of folder.samples.filter((s) => folder.classes[s.label] === label))
        symlinkSync(resolve(s.file), join(data, label, `${split}-${s.file.split('/').at(-1)}`));
    }
  }
  images = imageFolder(data, '--data').samples.map((s) => s.file);
  // The fixture weights with batch-norm statistics fitted to these images (so that the logits
  // depend on the image), then the classifier scaled and shifted for the run folder.
  const natural = join(dir, 'natural.pth');
  setBackend(new CpuBackend());
  writeFileSync(natural, writePth(deterministicState(new ShuffleNetV2('x0_5', 2))));
  await recalibrateBatchNorm(natural, 'x0_5', 2, IMG_SIZE, images);
  const margins = (await predictJson('--weights', natural, '--img-size', String(IMG_SIZE), ...images))
    .map((r) => r.logits[1] - r.logits[0])
    .sort((a, b) => a - b);
  // Scaled so that the margins span 4 (probabilities from about 0.1 to 0.9), shifted so that 4 of the
  // 12 images are predicted as class 0 (6 are labelled 0: a confusion matrix that is not symmetric).
  const scale = 4 / (margins[11] - margins[0]);
  const state = await readCheckpoint(readFileSync(natural), natural);
  const [weight, bias] = ['fc.weight', 'fc.bias'].map((k) => state.get(k)!.data as Float32Array);
  state.set('fc.weight', { dtype: 'float32', shape: [2, 1024], data: weight.map((w) => w * scale) });
  state.set('fc.bias', { dtype: 'float32', shape: [2], data: Float32Array.of((bias[0] + (margins[3] + margins[4]) / 2) * scale, bias[1] * scale) });
  runDir = join(dir, 'exp1');
  mkdirSync(join(runDir, 'weights'), { recursive: true });
  writeFileSync(join(runDir, 'weights', 'best.pth'), writePth(state));
  writeFileSync(join(runDir, 'class_indices.json'), JSON.stringify({ 0: '0', 1: '1' }));
  writeFileSync(join(runDir, 'train_info.json'), JSON.stringify({ 'train parameters': { model: 'x0_5', img_size: IMG_SIZE } }));
}, 300_000);

describe('predict --run', () => {
  it("equals predict --weights with the run's model, classes and image size", async () => {
    const fromRun = await predictJson('--run', runDir, ...images);
    const explicit = await predictJson(
      '--weights',
      join(runDir, 'weights', 'best.pth'),
      '--model',
      'x0_5',
      '--class-indices',
      join(runDir, 'class_indices.json'),
      '--img-size',
      String(IMG_SIZE),
      ...images,
    );
    expect(fromRun).toEqual(explicit);
    // the run's image size matters: the default 224 gives other logits
    const at224 = await predictJson('--weights', join(runDir, 'weights', 'best.pth'), images[0]);
    expect(at224[0].logits).not.toEqual(fromRun[0].logits);
    expect(new Set(fromRun.map((r) => r.index)).size).toBe(2);
    expect(Math.max(...fromRun.map((r) => Math.max(...r.probabilities)))).toBeGreaterThan(0.75);
  });

  it('says what is wrong with a run folder, and refuses per-checkpoint flags beside --run', async () => {
    const missing = await cli('predict', '--run', join(dir, 'nope'), images[0]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`--run: ${join(dir, 'nope')} does not exist`);
    const notRun = await cli('predict', '--run', data, images[0]);
    expect(notRun.stderr).toMatch(/has no weights\/best\.pth or weights\/last\.pth/);
    const both = await cli('predict', '--run', runDir, '--img-size', '96', images[0]);
    expect(both.stderr).toContain('leave out --img-size');
    const neither = await cli('predict', images[0]);
    expect(neither.stderr).toContain('name a training run (--run RUN_DIR) or a checkpoint (--weights FILE)');
    for (const r of [missing, notRun, both, neither]) expect(r.stderr).not.toMatch(/\.(js|ts):\d+:\d+/);
  });
});

/** The metrics, recomputed here from predictions and labels. */
function recompute(predicted: Predicted[]) {
  const labels = predicted.map((p) => labelOf(p.file));
  const perClass = [0, 1].map((k) => {
    const tp = predicted.filter((p, i) => p.index === k && labels[i] === k).length;
    const fp = predicted.filter((p, i) => p.index === k && labels[i] !== k).length;
    const fn = predicted.filter((p, i) => p.index !== k && labels[i] === k).length;
    const tn = predicted.length - tp - fp - fn;
    const precision = tp + fp ? tp / (tp + fp) : 0;
    const recall = tp + fn ? tp / (tp + fn) : 0;
    return {
      Precision: precision,
      Recall: recall,
      Specificity: tn + fp ? tn / (tn + fp) : 0,
      'F1 score': precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    };
  });
  const loss = predicted.reduce((s, p, i) => s - Math.log(p.probabilities[labels[i]]), 0) / predicted.length;
  const accuracy = predicted.filter((p, i) => p.index === labels[i]).length / predicted.length;
  return { perClass, loss, accuracy, confusion: [0, 1].map((t) => [0, 1].map((q) => predicted.filter((p, i) => labels[i] === t && p.index === q).length)) };
}

describe('evaluate', () => {
  it('gives the metrics recomputed from predict --json, and writes them with a confusion matrix and a CSV', async () => {
    const out = join(dir, 'eval-out');
    const { stdout, stderr, code } = await cli('evaluate', '--run', runDir, '--data', data, '--out', out, '--adapter', 'cpu', '--json');
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('evaluating test');
    const e = JSON.parse(stdout);
    const want = recompute(await predictJson('--run', runDir, ...images));
    expect(e.images).toBe(12);
    expect(e.confusion).toEqual(want.confusion);
    expect(want.confusion[0][1] + want.confusion[1][0]).toBeGreaterThan(0);
    expect(want.confusion[0][0] + want.confusion[1][1]).toBeGreaterThan(0);
    expect(want.confusion[0][1]).not.toBe(want.confusion[1][0]);
    const close = (got: number, expected: number, what: string) => expect(Math.abs(got - expected), what).toBeLessThan(6e-5);
    close(e.metrics.accuracy, want.accuracy, 'accuracy');
    close(e.metrics.loss, want.loss, 'loss');
    close(e.metrics['balanced accuracy'], (want.perClass[0].Recall + want.perClass[1].Recall) / 2, 'balanced accuracy');
    for (const key of ['Precision', 'Recall', 'Specificity', 'F1 score'] as const) {
      [0, 1].forEach((k) => close(e.metrics[String(k)][key], want.perClass[k][key], `class ${k} ${key}`));
      close(e.metrics[`mean ${key === 'F1 score' ? 'f1 score' : key.toLowerCase()}`], (want.perClass[0][key] + want.perClass[1][key]) / 2, `mean ${key}`);
    }
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).metrics).toEqual(e.metrics);
    expect([...readFileSync(join(out, 'confusion_matrix.png')).subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    const csv = readFileSync(join(out, 'predictions.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('file,label,prediction,prob_0,prob_1');
    expect(csv).toHaveLength(13);
  });

  it("refuses a test set whose classes are not the model's", async () => {
    const other = join(dir, 'other');
    for (const name of ['benign', 'malignant']) {
      mkdirSync(join(other, name), { recursive: true });
      symlinkSync(images[0], join(other, name, 'a.jpg'));
    }
    const { stderr, code } = await cli('evaluate', '--run', runDir, '--data', other, '--adapter', 'cpu');
    expect(code).toBe(1);
    expect(stderr).toContain(`--data: ${other} has the classes [benign, malignant], the model [0, 1]`);
    const missing = await cli('evaluate', '--run', runDir, '--data', join(dir, 'nothing'), '--adapter', 'cpu');
    expect(missing.stderr).toMatch(/--data: .*nothing does not exist/);
    const noSplit = await cli('evaluate', '--run', runDir, '--split', 'val', '--adapter', 'cpu');
    expect(noSplit.stderr).toContain('has no split.csv (the run was not trained with --val-split)');
    const neither = await cli('evaluate', '--run', runDir, '--adapter', 'cpu');
    expect(neither.stderr).toContain('name the test set: --data DIR');
  });
});

describe('export', () => {
  it("writes ONNX that ONNX Runtime runs to predict's logits (1e-4), batch 1 and 3", async () => {
    const out = join(dir, 'model.onnx');
    const checkpoint = ['--weights', join(dir, 'natural.pth'), '--img-size', String(IMG_SIZE)];
    const margins = (await predictJson(...checkpoint, ...images)).map((p) => p.logits[1] - p.logits[0]);
    expect(Math.max(...margins) - Math.min(...margins), 'logits that depend on the image').toBeGreaterThan(0.2);
    const { stderr, code } = await cli('export', ...checkpoint, '--format', 'onnx', '--out', out);
    expect(code, stderr).toBe(0);
    const predicted = await predictJson(...checkpoint, ...images.slice(0, 4));
    const session = await ort.InferenceSession.create(readFileSync(out));
    expect(session.inputNames).toEqual(['input']);
    const inputs = images.slice(0, 4).map((f) => evalTransform(decodeImage(readFileSync(f), f), IMG_SIZE));
    for (const batch of [[0], [1, 2, 3]]) {
      const x = new Float32Array(batch.length * 3 * IMG_SIZE * IMG_SIZE);
      batch.forEach((b, i) => x.set(inputs[b], i * inputs[b].length));
      const result = await session.run({ input: new ort.Tensor('float32', x, [batch.length, 3, IMG_SIZE, IMG_SIZE]) });
      const logits = result.logits.data as Float32Array;
      expect(result.logits.dims).toEqual([batch.length, 2]);
      batch.forEach((b, i) => predicted[b].logits.forEach((l, k) => expect(Math.abs(logits[i * 2 + k] - l), `image ${b} class ${k}`).toBeLessThan(1e-4)));
    }
  });

  it("writes safetensors and .pth holding the checkpoint's tensors", async () => {
    const original = await readCheckpoint(readFileSync(join(runDir, 'weights', 'best.pth')), 'best.pth');
    for (const format of ['safetensors', 'pth']) {
      const out = join(dir, `copy.${format}`);
      const { stderr, code } = await cli('export', '--run', runDir, '--out', out);
      expect(code, stderr).toBe(0);
      const copy = await readCheckpoint(readFileSync(out), out);
      expect([...copy.keys()]).toEqual([...original.keys()]);
      for (const [key, t] of original)
        expect(Array.from(copy.get(key)!.data as ArrayLike<number | bigint>), key).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
    }
  });

  it('names the format it needs', async () => {
    const { stderr, code } = await cli('export', '--run', runDir, '--out', join(dir, 'model.bin'));
    expect(code).toBe(1);
    expect(stderr).toContain('name the format: --format onnx|safetensors|pth');
  });
});

describe('train --val-split', () => {
  it('trains on a seeded stratified split of one folder, lists it in split.csv, and evaluate --split val gives the logged metrics', async () => {
    const root = join(DATASETS, 'udtn-sample', 'train');
    const save = join(dir, 'runs');
    const { stderr, code } = await cli(
      'train',
      '--data_train',
      root,
      '--val-split',
      '0.3',
      '--seed',
      '5',
      '--epochs',
      '1',
      '--img-size',
      '32',
      '--pretrained',
      'false',
      '--adapter',
      'cpu',
      '--workers',
      '0',
      '--save_ret',
      save,
    );
    expect(code, stderr).toBe(0);
    const want = stratifiedSplit(imageFolder(root, '--data_train').samples, 0.3, 5);
    const rows = readFileSync(join(save, 'exp1', 'split.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    expect(rows.filter((r) => r[2] === 'val').map((r) => r[0])).toEqual(want.val.map((s) => s.file));
    expect(rows.filter((r) => r[2] === 'train').map((r) => r[0])).toEqual(want.train.map((s) => s.file));
    const info = JSON.parse(readFileSync(join(save, 'exp1', 'train_info.json'), 'utf8'));
    expect(info.dataset.val).toEqual({ total: 4, 0: 2, 1: 2 });
    expect(info['train parameters'].val_split).toBe(0.3);
    const predictions = readFileSync(join(save, 'exp1', 'val_predictions.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[0]);
    expect(predictions.sort()).toEqual(want.val.map((s) => s.file).sort());
    // evaluate --split val reproduces the run's validation metrics (best.pth is epoch 0's)
    const evaluated = await cli('evaluate', '--run', join(save, 'exp1'), '--split', 'val', '--adapter', 'cpu', '--json');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const e = JSON.parse(evaluated.stdout);
    expect(e.images).toBe(4);
    const logged = JSON.parse(readFileSync(join(save, 'exp1', 'train_log.json'), 'utf8'))['epoch:0']['valid info'];
    expect(Object.keys(e.metrics).sort()).toEqual(Object.keys(logged).sort());
    for (const [key, value] of Object.entries(logged)) {
      if (typeof value === 'number') expect(Math.abs(e.metrics[key] - value), key).toBeLessThan(1.5e-4);
      else expect(e.metrics[key], key).toEqual(value);
    }
  });

  it('refuses a fraction outside (0, 1) and a class too small to split', async () => {
    const bad = await cli('train', '--data_train', join(DATASETS, 'udtn-sample', 'train'), '--val-split', '1.5', '--adapter', 'cpu');
    expect(bad.stderr).toContain("--val-split is the fraction of --data_train kept for validation, between 0 and 1 (e.g. 0.2), not '1.5'");
    const small = await cli(
      'train',
      '--data_train',
      join(DATASETS, 'udtn-sample', 'smalltest'),
      '--val-split',
      '0.1',
      '--adapter',
      'cpu',
      '--save_ret',
      join(dir, 'runs-small'),
    );
    expect(small.code).toBe(1);
    expect(small.stderr).toMatch(/--val-split 0\.1: .*smalltest: class '0' has 3 images: too few/);
  });
});
