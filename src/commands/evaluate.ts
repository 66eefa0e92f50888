// `evaluate`: a trained model on a labelled ImageFolder test set (torchvision's evaluation
// transform, as `predict`): accuracy, balanced accuracy, loss, per class Precision / Recall /
// Specificity / F1 and their means (the training log's fields), written with a confusion matrix PNG
// and a predictions CSV into a new output folder. The test set's classes must be the model's.

import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Argv } from 'yargs';
import { DatasetError, imageFolder } from '../data/folder.js';
import { crossEntropy } from '../reference/nn.js';
import { predictionsCsv, writeAtomic, writeJson } from '../train/files.js';
import { confusionMatrix, type EpochMetrics, epochMetrics } from '../train/metrics.js';
import { renderConfusionMatrix } from '../train/plot/confusion.js';
import { ProgressBar } from '../util/progress.js';
import { type ModelSource, modelSourceOptions, resolveModelSource } from './model-source.js';
import { predictFiles } from './predict.js';

export function evaluateOptions(y: Argv) {
  return modelSourceOptions(y)
    .option('data', { type: 'string', demandOption: true, describe: 'labelled test set: <data>/<class>/<image>, the same class folders as the training data' })
    .option('out', { type: 'string', describe: 'output folder (default: a new eval<N> folder in the run folder, or in ./runs without --run)' })
    .option('adapter', { type: 'string' })
    .option('json', { type: 'boolean', default: false, describe: 'print the metrics as one JSON object on stdout' });
}

type EvaluateArgs = Awaited<ReturnType<ReturnType<typeof evaluateOptions>['parseAsync']>>;

export interface Evaluation {
  /** index -> class name. */
  classes: string[];
  metrics: EpochMetrics;
  /** Rows: true class, columns: predicted class. */
  confusion: number[][];
  images: number;
  'skipped files': { file: string; message: string }[];
  out: string;
}

/** The first free <root>/eval<N>. */
function freshFolder(root: string): string {
  mkdirSync(root, { recursive: true });
  for (let n = 1; ; n++) {
    const dir = join(root, `eval${n}`);
    if (existsSync(dir)) continue;
    mkdirSync(dir);
    return dir;
  }
}

function checkClasses(source: ModelSource, classes: string[], data: string): void {
  if (classes.join('\n') === source.classNames.join('\n')) return;
  throw new DatasetError(`--data: ${data} has the classes [${classes.join(', ')}], the model [${source.classNames.join(', ')}]: the test set needs one folder per class of the model, with the same names`);
}

export async function evaluate(a: EvaluateArgs): Promise<Evaluation> {
  const source = resolveModelSource(a);
  const folder = imageFolder(a.data, '--data');
  checkClasses(source, folder.classes, a.data);
  const out = a.out ?? freshFolder(a.run ?? 'runs');
  mkdirSync(out, { recursive: true });

  const labels = new Map(folder.samples.map((s) => [s.file, s.label]));
  const skipped: { file: string; message: string }[] = [];
  const bar = new ProgressBar({ total: folder.samples.length, label: `evaluating ${basename(a.data)}`, unit: 'img' });
  let done = 0;
  const results = await predictFiles(folder.samples.map((s) => s.file), { ...source, adapter: a.adapter }, (file, message) => {
    console.error(`warning: skipped ${file}: ${message}`);
    skipped.push({ file, message });
  }, (n) => {
    bar.tick(n - done);
    done = n;
  });
  bar.finish();
  if (results.length === 0) throw new DatasetError(`--data: none of the ${folder.samples.length} images in ${a.data} could be read`);

  const truth = results.map((r) => labels.get(r.file)!);
  const K = source.numClasses;
  const loss = crossEntropy(Float64Array.from(results.flatMap((r) => r.logits)), Int32Array.from(truth), results.length, K);
  const confusion = confusionMatrix(truth, results.map((r) => r.index), K);
  const metrics = epochMetrics(confusion, source.classNames, loss);
  const evaluation: Evaluation = { classes: source.classNames, metrics, confusion, images: results.length, 'skipped files': skipped, out };
  writeJson(join(out, 'metrics.json'), { data: a.data, weights: source.weights, model: source.width, img_size: source.imgSize, ...evaluation });
  writeAtomic(join(out, 'confusion_matrix.png'), renderConfusionMatrix(confusion, source.classNames, `Test set ${basename(a.data)} (${results.length} images)`));
  writeAtomic(join(out, 'predictions.csv'), predictionsCsv(results.map((r, i) => ({ file: r.file, label: truth[i], probabilities: r.probabilities })), source.classNames));
  return evaluation;
}

export function printEvaluation(e: Evaluation): void {
  const m = e.metrics;
  console.log(`${e.images} images: accuracy ${m.accuracy.toFixed(4)}, balanced accuracy ${m['balanced accuracy'].toFixed(4)}, loss ${m.loss.toFixed(4)}`);
  console.log('class        precision  recall  specificity  f1');
  for (const name of e.classes) {
    const c = m[name] as { Precision: number; Recall: number; Specificity: number; 'F1 score': number };
    console.log(`${name.padEnd(12)} ${c.Precision.toFixed(4).padStart(9)}  ${c.Recall.toFixed(4).padStart(6)}  ${c.Specificity.toFixed(4).padStart(11)}  ${c['F1 score'].toFixed(4)}`);
  }
  console.log(`${'mean'.padEnd(12)} ${m['mean precision'].toFixed(4).padStart(9)}  ${m['mean recall'].toFixed(4).padStart(6)}  ${m['mean specificity'].toFixed(4).padStart(11)}  ${m['mean f1 score'].toFixed(4)}`);
  if (e['skipped files'].length > 0) console.log(`left out ${e['skipped files'].length} unreadable image(s): ${e['skipped files'].map((s) => s.file).join(', ')}`);
  console.log(`metrics.json, confusion_matrix.png and predictions.csv in ${e.out}`);
}
