// Inference on preprocessed images: a batch through the model in evaluation mode without a graph
// (batch norm folded into the convolutions), logits and softmax probabilities back on the CPU.

import { tensor } from '../autograd/ops/creation.js';
import { noGrad } from '../autograd/tape.js';
import { tidy } from '../autograd/tensor.js';
import type { ShuffleNetV2 } from './shufflenet.js';

export interface Prediction {
  index: number;
  probabilities: number[];
  logits: number[];
}

export function softmax(logits: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(logits));
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Classifies CHW float32 images of size imgSize x imgSize (already transformed and normalised). */
export async function predictBatch(model: ShuffleNetV2, images: Float32Array[], imgSize: number): Promise<Prediction[]> {
  if (images.length === 0) return [];
  const stacked = new Float32Array(images.length * 3 * imgSize * imgSize);
  images.forEach((img, i) => stacked.set(img, i * img.length));
  model.eval();
  const logits = tidy(() => noGrad(() => model.forward(tensor(stacked, [images.length, 3, imgSize, imgSize]))));
  const values = await logits.data();
  logits.dispose();
  const K = model.numClasses;
  return images.map((_, i) => {
    const row = Array.from(values.subarray(i * K, (i + 1) * K));
    const probabilities = softmax(row);
    return { index: probabilities.indexOf(Math.max(...probabilities)), probabilities, logits: row };
  });
}
