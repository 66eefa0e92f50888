// `predict`: classify image files with trained weights, using torchvision's evaluation transform. An
// image whose outputs are not finite is reported like an unreadable one (exit status 1), never printed
// as a prediction.

import { initBackend } from '../autograd/default_backend.js';
import { checkBatchFits } from '../model/fits.js';
import { decodeImage } from '../data/decode.js';
import { readImageFile } from '../data/read_image.js';
import { evalTransform } from '../data/transforms.js';
import { predictBatch } from '../model/predict.js';
import { ShuffleNetV2, type Width } from '../model/shufflenet.js';
import { loadWeightsFile } from '../model/weights_file.js';
import { readJsonFile } from './flags.js';

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

/** A run's class_indices.json ({"0": name, "1": name, ...}) as the list of names; `what` names its origin in messages. */
export function readClassIndices(path: string, what = '--class-indices'): string[] {
  const parsed = readJsonFile(path, what);
  const entries = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? Object.entries(parsed) : [];
  const names = entries.map((_, i) => (parsed as Record<string, unknown>)[String(i)]);
  if (entries.length === 0 || names.some((n) => typeof n !== 'string')) {
    throw new Error(
      `${what}: ${path} is not a class index file: expected {"0": "<class name>", "1": ...} with every index from 0 (as train writes class_indices.json)`,
    );
  }
  return names as string[];
}

/** Predictions for the readable files; unreadable ones are reported through `onError`; `onProgress` after each batch. */
export async function predictFiles(
  files: string[],
  o: PredictOptions,
  onError: (file: string, message: string) => void,
  onProgress?: (done: number) => void,
): Promise<PredictResult[]> {
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
        batch.push({ file, input: evalTransform(decodeImage(readImageFile(file), file), o.imgSize) });
      } catch (e) {
        onError(file, (e as Error).message);
      }
    }
    const predictions = await predictBatch(
      model,
      batch.map((b) => b.input),
      o.imgSize,
    );
    predictions.forEach((p, i) => {
      if (p.logits.every(Number.isFinite))
        results.push({ file: batch[i].file, index: p.index, class: names[p.index], probabilities: p.probabilities, logits: p.logits });
      else
        onError(
          batch[i].file,
          `the network's outputs for it are not finite (${p.logits.filter((v) => !Number.isFinite(v)).length} of ${p.logits.length} logits); the weights ${o.weights} are probably broken`,
        );
    });
    onProgress?.(Math.min(start + BATCH, files.length));
  }
  return results;
}
