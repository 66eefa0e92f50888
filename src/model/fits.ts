// Pre-flight checks of a training or inference configuration, before any work starts:
// - every tensor and scratch buffer of a layer must fit one storage binding of the device
//   (Gpu.largestBinding): the input batch, each convolution's input and output (their gradients have
//   the same sizes) and one image's im2col patches (more images run in chunks). Where one does not,
//   one line names the layer, the limit, and the --batch-size or --img-size that fits;
// - train-mode batch norm needs more than one value per channel: a batch of one image fails where
//   the last stage's maps are 1x1 (images of 32 px or less).

import type { Backend } from '../backends/backend.js';
import { GpuBackend } from '../backends/gpu.js';
import { convolutionShapes } from './info.js';
import type { ShuffleNetV2 } from './shufflenet.js';

/** A configuration the device or the model cannot run; the message says what to change. */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

interface BufferNeed {
  layer: string;
  what: string;
  bytes: number;
  /** Scratch that is split into chunks of images: only one image's must fit. */
  chunked: boolean;
}

const elements = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** The buffers one image of imgSize x imgSize needs in each layer, in bytes. */
function bufferNeeds(model: ShuffleNetV2, imgSize: number): BufferNeed[] {
  const names = new Map(model.namedParameters().map(([name, p]) => [p, name.replace(/\.weight$/, '')]));
  const needs: BufferNeed[] = [{ layer: 'the input', what: 'batch of images', bytes: 3 * imgSize * imgSize * 4, chunked: false }];
  for (const { conv, input, output } of convolutionShapes(model, imgSize)) {
    const layer = names.get(conv.weight) ?? 'a convolution';
    needs.push({ layer, what: 'input', bytes: elements(input) * 4, chunked: false }, { layer, what: 'output', bytes: elements(output) * 4, chunked: false });
    const pointwise = conv.kernelSize === 1 && conv.stride === 1 && conv.padding === 0;
    const depthwise = conv.groups === conv.inChannels && conv.groups === conv.outChannels;
    if (!pointwise && !depthwise) {
      const rows = (conv.inChannels / conv.groups) * conv.kernelSize * conv.kernelSize;
      needs.push({ layer, what: 'im2col patches', bytes: rows * output[2] * output[3] * 4, chunked: true });
    }
  }
  return needs;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The largest buffer of a batch that does not fit `limit` bytes, or null. */
function largestMisfit(model: ShuffleNetV2, batch: number, imgSize: number, limit: number): (BufferNeed & { total: number }) | null {
  let worst: (BufferNeed & { total: number }) | null = null;
  for (const need of bufferNeeds(model, imgSize)) {
    const total = need.chunked ? need.bytes : need.bytes * batch;
    if (total > limit && total > (worst?.total ?? 0)) worst = { ...need, total };
  }
  return worst;
}

/**
 * Throws a ConfigurationError unless every buffer of a batch of `batch` images of imgSize x imgSize
 * fits one storage binding of `backend`'s device (nothing to check on the CPU reference).
 */
export function checkBatchFits(backend: Backend, model: ShuffleNetV2, batch: number, imgSize: number): void {
  if (!(backend instanceof GpuBackend)) return;
  const limit = backend.gpu.largestBinding;
  const misfit = largestMisfit(model, batch, imgSize, limit);
  if (!misfit) return;
  const perImage = bufferNeeds(model, imgSize).filter((n) => !n.chunked);
  const largestBatch = Math.floor(limit / Math.max(...perImage.map((n) => n.bytes)));
  // The largest image size at which one image fits (buffers grow with the size): a binary search.
  let [fits, fails] = [1, imgSize];
  while (fails - fits > 1) {
    const middle = Math.floor((fits + fails) / 2);
    if (largestMisfit(model, 1, middle, limit)) fails = middle;
    else fits = middle;
  }
  const remedy = !misfit.chunked && largestBatch >= 1 ? `use --batch-size ${largestBatch} or less, or a smaller --img-size` : `use --img-size ${fits} or less`;
  throw new ConfigurationError(
    `a batch of ${batch} image${batch > 1 ? 's' : ''} at --img-size ${imgSize} does not fit this adapter: ${misfit.layer}'s ${misfit.what} would take ${mib(misfit.total)}, more than the ${mib(limit)} one storage buffer may hold (maxStorageBufferBindingSize ${backend.gpu.limits.maxStorageBufferBindingSize}, maxBufferSize ${backend.gpu.limits.maxBufferSize}); ${remedy}`,
  );
}

/** Height and width of ShuffleNet V2's last stage (conv5) for imgSize x imgSize images: five halvings, each rounding up. */
export function lastStageSize(imgSize: number): number {
  return Math.ceil(imgSize / 32);
}

/**
 * Throws a ConfigurationError where training would run batch norm in training mode over one value
 * per channel: a batch of one image whose last stage is 1x1. `trainModeNorms`: whether any batch norm
 * trains in training mode (all do unless the backbone is frozen with its norms in evaluation mode).
 */
export function checkBatchNormValues(batch: number, imgSize: number, trainModeNorms: boolean): void {
  if (batch > 1 || !trainModeNorms || lastStageSize(imgSize) > 1) return;
  throw new ConfigurationError(
    `--batch-size 1 at --img-size ${imgSize}: the last stage's maps are 1x1, so its batch norms in training mode would see one value per channel; use --batch-size 2 or more, or --img-size 33 or more (or --freeze_layers true with --frozen-bn eval)`,
  );
}
