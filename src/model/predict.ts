// Inference on preprocessed images: a batch through the model in evaluation mode without a graph
// (batch norm folded into the convolutions), logits and softmax probabilities back on the CPU.
// On a GPU the forward's dispatches are recorded once per batch shape and weights and replayed for
// the next batches (Gpu.record): the layers' code, which works out and records them, runs once.

import { empty, tensor } from '../autograd/ops/creation.js';
import { noGrad } from '../autograd/tape.js';
import { keep, Tensor, tidy } from '../autograd/tensor.js';
import { GpuBackend } from '../backends/gpu.js';
import type { Recording } from '../gpu/context.js';
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

/** A model's recorded forward: its input and logits tensors, replayed while `key` holds. */
interface RecordedForward {
  key: string;
  backend: GpuBackend;
  input: Tensor;
  logits: Tensor;
  recording: Recording;
}

const recordedForwards = new WeakMap<ShuffleNetV2, RecordedForward>();
/** A model collected with its forward still recorded gives the recording's buffers back to the pool. */
const discardWhenCollected = new FinalizationRegistry<{ backend: GpuBackend; recording: Recording }>(({ backend, recording }) =>
  backend.gpu.discard(recording),
);

const storageIds = new WeakMap<object, number>();
let storagesSeen = 0;
const storageId = (t: Tensor) => {
  let id = storageIds.get(t.storage);
  if (id === undefined) storageIds.set(t.storage, (id = storagesSeen++));
  return id;
};

/**
 * What a recorded forward depends on besides its input's values: the input's shape, and where each
 * weight and statistic lives (storage, offset) and its version.
 */
function forwardKey(model: ShuffleNetV2, shape: number[]): string {
  const state = model.namedState().map(([, t]) => (t instanceof Tensor ? `${storageId(t)}@${t.offset}v${t.version}` : ''));
  return [shape.join('x'), ...state].join(',');
}

/** The evaluation-mode logits of `images` ([N, 3, S, S]), through the model's recorded forward where the backend records. */
export async function evaluateLogits(model: ShuffleNetV2, images: Float32Array, shape: number[]): Promise<Float32Array> {
  model.eval();
  const backend = model.fc.weight.backend;
  if (!(backend instanceof GpuBackend)) {
    const logits = tidy(() => noGrad(() => model.forward(tensor(images, shape))));
    const values = (await logits.data()) as Float32Array;
    logits.dispose();
    return values;
  }
  const key = forwardKey(model, shape);
  let recorded = recordedForwards.get(model);
  if (recorded?.key === key && recorded.backend === backend) {
    backend.write(recorded.input, images);
    backend.gpu.replay(recorded.recording);
  } else {
    discardRecordedForward(model);
    const input = keep(empty(shape, 'float32', backend));
    backend.write(input, images);
    let logits: Tensor | undefined;
    const recording = backend.gpu.record(() => {
      logits = keep(tidy(() => noGrad(() => model.forward(input))));
    });
    recorded = { key, backend, input, logits: logits as Tensor, recording };
    recordedForwards.set(model, recorded);
    discardWhenCollected.register(model, { backend, recording }, recorded);
  }
  return (await recorded.logits.data()) as Float32Array;
}

/** Frees a model's recorded forward (its pinned buffers, input and logits); the next prediction records again. */
export function discardRecordedForward(model: ShuffleNetV2): void {
  const recorded = recordedForwards.get(model);
  if (!recorded) return;
  recordedForwards.delete(model);
  discardWhenCollected.unregister(recorded);
  recorded.backend.gpu.discard(recorded.recording);
  recorded.input.dispose();
  recorded.logits.dispose();
}

/** Classifies CHW float32 images of size imgSize x imgSize (already transformed and normalised). */
export async function predictBatch(model: ShuffleNetV2, images: Float32Array[], imgSize: number): Promise<Prediction[]> {
  if (images.length === 0) return [];
  const stacked = new Float32Array(images.length * 3 * imgSize * imgSize);
  images.forEach((img, i) => stacked.set(img, i * img.length));
  const values = await evaluateLogits(model, stacked, [images.length, 3, imgSize, imgSize]);
  const K = model.numClasses;
  return images.map((_, i) => {
    const row = Array.from(values.subarray(i * K, (i + 1) * K));
    const probabilities = softmax(row);
    return { index: probabilities.indexOf(Math.max(...probabilities)), probabilities, logits: row };
  });
}
