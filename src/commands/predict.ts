// `predict`: classify image files with trained weights, using torchvision's evaluation transform.

import { readFileSync } from 'node:fs';
import { initBackend } from '../autograd/engine.js';
import { checkBatchFits } from '../model/fits.js';
import { decodeImage } from '../data/decode.js';
import { evalTransform } from '../data/transforms.js';
import { predictBatch } from '../model/predict.js';
import { ShuffleNetV2, type Width } from '../model/shufflenet.js';
import { loadWeightsFile } from '../model/weights_file.js';

export interface PredictOptions {
  width: Width;
  numClasses: number;
  weights: string;
  imgSize: number;
  adapter?: string;
  /** index -> class name (a run's class_indices.json); default: the index itself. */
  classNames?: string[];
}

export interface PredictResult {
  file: string;
  index: number;
  class: string;
  probabilities: number[];
  logits: number[];
}

const BATCH = 16;

export function readClassIndices(path: string): string[] {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
  return Object.keys(parsed).sort((a, b) => Number(a) - Number(b)).map((k) => parsed[k]);
}

/** Predictions for the readable files; unreadable ones are reported through `onError`. */
export async function predictFiles(files: string[], o: PredictOptions, onError: (file: string, message: string) => void): Promise<PredictResult[]> {
  const backend = await initBackend(o.adapter);
  const model = new ShuffleNetV2(o.width, o.numClasses);
  checkBatchFits(backend, model, Math.min(BATCH, files.length), o.imgSize);
  await loadWeightsFile(model, o.weights);
  const names = o.classNames ?? Array.from({ length: o.numClasses }, (_, i) => String(i));
  if (names.length !== o.numClasses) throw new Error(`the class names list has ${names.length} entries for ${o.numClasses} classes`);
  const results: PredictResult[] = [];
  for (let start = 0; start < files.length; start += BATCH) {
    const batch: { file: string; input: Float32Array }[] = [];
    for (const file of files.slice(start, start + BATCH)) {
      try {
        batch.push({ file, input: evalTransform(decodeImage(readFileSync(file), file), o.imgSize) });
      } catch (e) {
        onError(file, (e as Error).message);
      }
    }
    const predictions = await predictBatch(model, batch.map((b) => b.input), o.imgSize);
    predictions.forEach((p, i) => results.push({ file: batch[i].file, index: p.index, class: names[p.index], probabilities: p.probabilities, logits: p.logits }));
  }
  return results;
}
