// ShuffleNet V2 as an ONNX model (opset 13) for ONNX Runtime and other ONNX tools: the evaluation-mode
// network with each batch norm folded into the convolution before it (weight * scale, bias =
// beta - mean * scale, in float64, as `predict` folds them), the channel split as Split, concat +
// channel shuffle as Concat, Reshape [N, 2, C/2, H*W], Transpose, Reshape back to the concatenation's
// own shape, and a dynamic batch axis ("batch") on the input and the logits.

import { BatchNorm2d, Conv2d, ReLU, type Sequential } from './module.js';
import { encodeModel, type InitializerSpec, type NodeSpec } from './onnx_proto.js';
import type { InvertedResidual, ShuffleNetV2 } from './shufflenet.js';

export const ONNX_OPSET = 13;

class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: InitializerSpec[] = [];
  private count = 0;

  fresh(hint: string): string {
    return `${hint}_${this.count++}`;
  }

  add(op: string, inputs: string[], attributes: NodeSpec['attributes'] = [], outputs = 1): string[] {
    const names = Array.from({ length: outputs }, () => this.fresh(op.toLowerCase()));
    this.nodes.push({ op, inputs, outputs: names, attributes });
    return names;
  }

  constant(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    this.initializers.push({ name, dims, data });
    return name;
  }

  int64s(values: number[]): string {
    return this.constant(
      this.fresh('const'),
      [values.length],
      BigInt64Array.from(values, (v) => BigInt(v)),
    );
  }
}

async function floats(t: { data(): Promise<ArrayLike<number>> }): Promise<Float64Array> {
  return Float64Array.from(await t.data());
}

/** conv followed by its batch norm, as one Conv with the batch norm folded into weight and bias. */
async function convBatchNorm(g: GraphBuilder, x: string, name: string, conv: Conv2d, bn: BatchNorm2d): Promise<string> {
  const [w, gamma, beta, mean, variance] = await Promise.all([conv.weight, bn.weight, bn.bias, bn.runningMean, bn.runningVar].map(floats));
  const C = conv.outChannels;
  const perChannel = w.length / C;
  const weight = new Float32Array(w.length);
  const bias = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const scale = gamma[c] / Math.sqrt(variance[c] + bn.eps);
    for (let i = 0; i < perChannel; i++) weight[c * perChannel + i] = w[c * perChannel + i] * scale;
    bias[c] = beta[c] - mean[c] * scale;
  }
  const k = conv.kernelSize;
  const p = conv.padding;
  return g.add(
    'Conv',
    [x, g.constant(`${name}.weight`, [C, conv.inChannels / conv.groups, k, k], weight), g.constant(`${name}.bias`, [C], bias)],
    [
      { name: 'kernel_shape', ints: [k, k] },
      { name: 'strides', ints: [conv.stride, conv.stride] },
      { name: 'pads', ints: [p, p, p, p] },
      { name: 'group', int: conv.groups },
    ],
  )[0];
}

/** A Sequential of conv, batch norm (and ReLU) triples, as ShuffleNet builds them. */
async function sequential(g: GraphBuilder, x: string, name: string, s: Sequential): Promise<string> {
  for (let i = 0; i < s.layers.length; i++) {
    const [m, next] = [s.layers[i], s.layers[i + 1]];
    if (m instanceof Conv2d && next instanceof BatchNorm2d) {
      x = await convBatchNorm(g, x, `${name}.${i}`, m, next);
      i++;
    } else if (m instanceof ReLU) x = g.add('Relu', [x])[0];
    else throw new Error(`ONNX export: unexpected layer ${m.constructor.name} at ${name}.${i}`);
  }
  return x;
}

/** torchvision's channel_shuffle(cat(a, b), 2): channel c of a goes to 2c, of b to 2c + 1. */
function concatShuffle(g: GraphBuilder, a: string, b: string, channels: number): string {
  const [joined] = g.add('Concat', [a, b], [{ name: 'axis', int: 1 }]);
  const [grouped] = g.add('Reshape', [joined, g.int64s([0, 2, channels / 2, -1])]);
  const [swapped] = g.add('Transpose', [grouped], [{ name: 'perm', ints: [0, 2, 1, 3] }]);
  const [shape] = g.add('Shape', [joined]);
  return g.add('Reshape', [swapped, shape])[0];
}

async function invertedResidual(g: GraphBuilder, x: string, name: string, unit: InvertedResidual): Promise<string> {
  if (unit.stride === 1) {
    const half = unit.inChannels / 2;
    const [x1, x2] = g.add('Split', [x, g.int64s([half, half])], [{ name: 'axis', int: 1 }], 2);
    return concatShuffle(g, x1, await sequential(g, x2, `${name}.branch2`, unit.branch2), unit.outChannels);
  }
  const left = await sequential(g, x, `${name}.branch1`, unit.branch1);
  const right = await sequential(g, x, `${name}.branch2`, unit.branch2);
  return concatShuffle(g, left, right, unit.outChannels);
}

/** The ONNX model's bytes: input "input" [batch, 3, imgSize, imgSize] (normalised), output "logits" [batch, classes]. */
export async function toOnnx(model: ShuffleNetV2, imgSize: number): Promise<Uint8Array> {
  const g = new GraphBuilder();
  let x = await sequential(g, 'input', 'conv1', model.conv1);
  [x] = g.add(
    'MaxPool',
    [x],
    [
      { name: 'kernel_shape', ints: [3, 3] },
      { name: 'strides', ints: [2, 2] },
      { name: 'pads', ints: [1, 1, 1, 1] },
    ],
  );
  for (const [s, stage] of model.stages.entries()) {
    for (const [u, unit] of stage.layers.entries()) x = await invertedResidual(g, x, `stage${s + 2}.${u}`, unit as InvertedResidual);
  }
  x = await sequential(g, x, 'conv5', model.conv5);
  [x] = g.add('GlobalAveragePool', [x]);
  [x] = g.add('Flatten', [x], [{ name: 'axis', int: 1 }]);
  const fcWeight = g.constant('fc.weight', [model.numClasses, model.fc.inFeatures], Float32Array.from(await model.fc.weight.data()));
  const fcBias = g.constant('fc.bias', [model.numClasses], Float32Array.from(await model.fc.bias.data()));
  g.nodes.push({ op: 'Gemm', inputs: [x, fcWeight, fcBias], outputs: ['logits'], attributes: [{ name: 'transB', int: 1 }] });
  return encodeModel({
    graphName: `shufflenet_v2_${model.width}`,
    producer: 'shufflenet-webgpu',
    opset: ONNX_OPSET,
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [{ name: 'input', dims: ['batch', 3, imgSize, imgSize] }],
    outputs: [{ name: 'logits', dims: ['batch', model.numClasses] }],
  });
}
