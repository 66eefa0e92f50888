// Model info: parameter counts and operation counts. FLOPs are counted the way thop 0.1.1 (the seed's
// tool) counts them, so its numbers come out: a convolution is output elements x (in/groups) x k x k
// multiply-accumulates, a linear layer in x out per sample, a batch norm 4 operations per element, and
// ReLU, pooling and the channel shuffle nothing. `macs` is the multiply-accumulates alone.

import { BatchNorm2d, Conv2d, Linear, MaxPool2d, type Module, ReLU, Sequential } from './module.js';
import { InvertedResidual, ShuffleNetV2 } from './shufflenet.js';

interface Count {
  flops: number;
  macs: number;
  /** Told every convolution's input and output shape (batch 1), in order. */
  onConv?: (conv: Conv2d, input: number[], output: number[]) => void;
}

/** Propagates an NCHW shape (batch 1) through `m`, adding its operations to `count`. */
function trace(m: Module, shape: number[], count: Count): number[] {
  const elements = (s: number[]) => s.reduce((a, b) => a * b, 1);
  if (m instanceof Conv2d) {
    const [, , H, W] = shape;
    const out = [
      1,
      m.outChannels,
      Math.floor((H + 2 * m.padding - m.kernelSize) / m.stride) + 1,
      Math.floor((W + 2 * m.padding - m.kernelSize) / m.stride) + 1,
    ];
    const macs = elements(out) * (m.inChannels / m.groups) * m.kernelSize * m.kernelSize;
    count.onConv?.(m, shape, out);
    count.macs += macs;
    count.flops += macs;
    return out;
  }
  if (m instanceof BatchNorm2d) {
    count.flops += 4 * elements(shape);
    return shape;
  }
  if (m instanceof ReLU) return shape;
  if (m instanceof MaxPool2d) {
    const { kernel, stride, padding } = m.options;
    const size = (n: number) => Math.floor((n + 2 * padding - kernel) / stride) + 1;
    return [shape[0], shape[1], size(shape[2]), size(shape[3])];
  }
  if (m instanceof Linear) {
    count.macs += m.inFeatures * m.outFeatures;
    count.flops += m.inFeatures * m.outFeatures;
    return [1, m.outFeatures];
  }
  if (m instanceof Sequential) return m.layers.reduce((s, layer) => trace(layer, s, count), shape);
  if (m instanceof InvertedResidual) {
    const half = [shape[0], shape[1] / 2, shape[2], shape[3]];
    const b2 = trace(m.branch2, m.stride === 1 ? half : shape, count);
    const b1 = m.stride === 1 ? half : trace(m.branch1, shape, count);
    return [1, b1[1] + b2[1], b2[2], b2[3]];
  }
  if (m instanceof ShuffleNetV2) {
    let s = trace(
      m.conv5,
      [m.conv1, m.maxpool, ...m.stages].reduce((acc, layer) => trace(layer, acc, count), shape),
      count,
    );
    s = [1, s[1]];
    return trace(m.fc, s, count);
  }
  throw new Error(`model info: no operation count for ${m.constructor.name}`);
}

export interface ModelInfo {
  model: string;
  num_classes: number;
  'total parameters': number;
  'train parameters': number;
  flops: number;
  macs: number;
}

/** Every convolution of the model with its input and output shapes for one image of imgSize x imgSize. */
export function convolutionShapes(model: ShuffleNetV2, imgSize: number): { conv: Conv2d; input: number[]; output: number[] }[] {
  const out: { conv: Conv2d; input: number[]; output: number[] }[] = [];
  trace(model, [1, 3, imgSize, imgSize], { flops: 0, macs: 0, onConv: (conv, input, output) => out.push({ conv, input, output }) });
  return out;
}

export function modelInfo(model: ShuffleNetV2, imgSize = 224): ModelInfo {
  const params = model.namedParameters().map(([, p]) => p);
  const count: Count = { flops: 0, macs: 0 };
  trace(model, [1, 3, imgSize, imgSize], count);
  return {
    model: model.width,
    num_classes: model.numClasses,
    'total parameters': params.reduce((s, p) => s + p.size, 0),
    'train parameters': params.filter((p) => p.requiresGrad).reduce((s, p) => s + p.size, 0),
    flops: count.flops,
    macs: count.macs,
  };
}
