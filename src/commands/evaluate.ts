// `evaluate`: a trained model on a labelled ImageFolder test set (torchvision's evaluation
// transform, as `predict`): accuracy, balanced accuracy, loss, per class Precision / Recall /
// Specificity / F1 and their means (the training log's fields), written with a confusion matrix PNG
// and a predictions CSV into a new output folder. The test set's classes must be the model's. The
// test set is a folder (--data) or one side of a `train --val-split` run's split.csv (--split).

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Argv } from 'yargs';
import { DatasetError, type ImageFolder, imageFolder } from '../data/folder.js';
import { parseSplitCsv } from '../data/split.js';
import { predictionsCsv, writeAtomic, writeJson } from '../train/files.js';
import { confusionMatrix, type EpochMetrics, epochMetrics, meanCrossEntropy } from '../train/metrics.js';
import { renderConfusionMatrix } from '../train/plot/confusion.js';
import { ProgressBar } from '../util/progress.js';
import { type ModelSource, modelSourceOptions, resolveModelSource } from './model_source.js';
import { predictFiles } from './predict.js';

export function evaluateOptions(y: Argv) {
  return modelSourceOptions(y)
    .option('data', { type: 'string', describe: 'labelled test set: <data>/<class>/<image>, the same class folders as the training data' })
    .option('split', {
      type: 'string',
      choices: ['val', 'train'],
      describe: "instead of --data: one side of the split a `train --val-split` run made (the run's split.csv)",
    })
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
  throw new DatasetError(
    `--data: ${data} has the classes [${classes.join(', ')}], the model [${source.classNames.join(', ')}]: the test set needs one folder per class of the model, with the same names`,
  );
}

/** The images of one side of a run's split.csv, labelled by the model's class names. */
function fromSplit(run: string | undefined, set: string, source: ModelSource): ImageFolder {
  if (run === undefined) throw new Error('--split takes the split of a training run: give --run RUN_DIR');
  const path = join(run, 'split.csv');
  if (!existsSync(path)) throw new Error(`--split: ${run} has no split.csv (the run was not trained with --val-split)`);
  const rows = parseSplitCsv(readFileSync(path, 'utf8'), path).filter((r) => r.set === set);
  const samples = rows.map((r) => {
    const label = source.classNames.indexOf(r.class);
    if (label < 0)
      throw new DatasetError(`--split: ${path} labels ${r.file} '${r.class}', which is not a class of the model [${source.classNames.join(', ')}]`);
    return { file: r.file, label };
  });
  if (samples.length === 0) throw new DatasetError(`--split: ${path} lists no ${set} images`);
  return { root: `${path} (${set})`, classes: source.classNames, samples };
}

export async function evaluate(a: EvaluateArgs): Promise<Evaluation> {
  const source = resolveModelSource(a);
  if ((a.data === undefined) === (a.split === undefined))
    throw new Error("name the test set: --data DIR (an ImageFolder) or --split val|train (a --val-split run's split.csv)");
  const folder = a.split !== undefined ? fromSplit(a.run, a.split, source) : imageFolder(a.data!, '--data');
  checkClasses(source, folder.classes, folder.root);
  const name = a.split !== undefined ? `${a.split} split` : basename(a.data!);
  const out = a.out ?? freshFolder(a.run ?? 'runs');
  mkdirSync(out, { recursive: true });

  const labels = new Map(folder.samples.map((s) => [s.file, s.label]));
  const skipped: { file: string; message: string }[] = [];
  const bar = new ProgressBar({ total: folder.samples.length, label: `evaluating ${name}`, unit: 'img' });
  let done = 0;
  const results = await predictFiles(
    folder.samples.map((s) => s.file),
    { ...source, adapter: a.adapter },
    (file, message) => {
      console.error(`warning: skipped ${file}: ${message}`);
      skipped.push({ file, message });
    },
    (n) => {
      bar.tick(n - done);
      done = n;
    },
  );
  bar.finish();
  if (results.length === 0) throw new DatasetError(`none of the ${folder.samples.length} images of ${folder.root} could be read`);

  const truth = results.map((r) => labels.get(r.file)!);
  const K = source.numClasses;
  const loss = meanCrossEntropy(
    results.flatMap((r) => r.logits),
    truth,
    K,
  );
  const confusion = confusionMatrix(
    truth,
    results.map((r) => r.index),
    K,
  );
  const metrics = epochMetrics(confusion, source.classNames, loss);
  const evaluation: Evaluation = { classes: source.classNames, metrics, confusion, images: results.length, 'skipped files': skipped, out };
  writeJson(join(out, 'metrics.json'), { data: folder.root, weights: source.weights, model: source.width, img_size: source.imgSize, ...evaluation });
  writeAtomic(join(out, 'confusion_matrix.png'), renderConfusionMatrix(confusion, source.classNames, `Test set ${name} (${results.length} images)`));
  writeAtomic(
    join(out, 'predictions.csv'),
    predictionsCsv(
      results.map((r, i) => ({ file: r.file, label: truth[i], probabilities: r.probabilities })),
      source.classNames,
    ),
  );
  return evaluation;
}

export function printEvaluation(e: Evaluation): void {
  const m = e.metrics;
  console.log(`${e.images} images: accuracy ${m.accuracy.toFixed(4)}, balanced accuracy ${m['balanced accuracy'].toFixed(4)}, loss ${m.loss.toFixed(4)}`);
  console.log('class        precision  recall  specificity  f1');
  for (const name of e.classes) {
    const c = m[name] as { Precision: number; Recall: number; Specificity: number; 'F1 score': number };
    console.log(
      `${name.padEnd(12)} ${c.Precision.toFixed(4).padStart(9)}  ${c.Recall.toFixed(4).padStart(6)}  ${c.Specificity.toFixed(4).padStart(11)}  ${c['F1 score'].toFixed(4)}`,
    );
  }
  console.log(
    `${'mean'.padEnd(12)} ${m['mean precision'].toFixed(4).padStart(9)}  ${m['mean recall'].toFixed(4).padStart(6)}  ${m['mean specificity'].toFixed(4).padStart(11)}  ${m['mean f1 score'].toFixed(4)}`,
  );
  if (e['skipped files'].length > 0)
    console.log(`left out ${e['skipped files'].length} unreadable image(s): ${e['skipped files'].map((s) => s.file).join(', ')}`);
  console.log(`metrics.json, confusion_matrix.png and predictions.csv in ${e.out}`);
}
