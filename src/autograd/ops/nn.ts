// Neural-network ops, each forward beside its backward: convolution, batch norm (with an optional
// fused ReLU), max pooling, linear, softmax cross-entropy.

import { E } from '../../kernels/expr.js';
import type { Conv2dParams, Epilogue } from '../../backends/backend.js';
import { gradientBuffer, isGradEnabled, record } from '../tape.js';
import type { Tensor } from '../tensor.js';
import { empty } from './creation.js';
import { reduceTo } from './elementwise.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  groups?: number;
}

const pair = (v: number | [number, number] | undefined, fallback: number): [number, number] =>
  v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : v;

function conv2dGeometry(x: Tensor, w: Tensor, options: Conv2dOptions): { params: Conv2dParams; outShape: number[] } {
  const params: Conv2dParams = { stride: pair(options.stride, 1), padding: pair(options.padding, 0), groups: options.groups ?? 1 };
  if (x.rank !== 4 || w.rank !== 4) throw new Error(`conv2d: expected a 4-D input and weight, got input [${x.shape}] and weight [${w.shape}]`);
  const [N, C, H, W] = x.shape;
  const [K, Cg, KH, KW] = w.shape;
  const g = params.groups;
  if (C !== Cg * g || K % g !== 0)
    throw new Error(
      `conv2d: input [${x.shape}] and weight [${w.shape}] do not match with groups=${g} (input channels must equal weight.shape[1] * groups = ${Cg * g})`,
    );
  const OH = Math.floor((H + 2 * params.padding[0] - KH) / params.stride[0]) + 1;
  const OW = Math.floor((W + 2 * params.padding[1] - KW) / params.stride[1]) + 1;
  if (OH < 1 || OW < 1) throw new Error(`conv2d: input [${x.shape}] is smaller than the ${KH}x${KW} kernel`);
  return { params, outShape: [N, K, OH, OW] };
}

/** 2-D convolution (no bias: ShuffleNet's convolutions have none, batch norm follows). */
export function conv2d(x: Tensor, w: Tensor, options: Conv2dOptions = {}): Tensor {
  x.check('conv2d');
  w.check('conv2d');
  const { params, outShape } = conv2dGeometry(x, w, options);
  const backend = x.backend;
  const out = empty(outShape, 'float32', backend);
  backend.conv2d(x, w, out, params);
  return record('conv2d', [x, w], out, (g) => {
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    if (x.requiresGrad) backend.conv2dGradInput(g, w, (dx = empty(x.shape, 'float32', backend)), params);
    if (w.requiresGrad) backend.conv2dGradWeight(g, x, (dw = gradientBuffer(w)), params);
    return [dx, dw];
  });
}

/**
 * Inference only: relu?(conv2d(x, w) * scale[k] + shift[k]) in one kernel, the batch norm folded into
 * the convolution's store.
 */
export function conv2dFused(x: Tensor, w: Tensor, options: Conv2dOptions, epilogue: Epilogue, into?: Tensor): Tensor {
  if (isGradEnabled() && (x.requiresGrad || w.requiresGrad)) throw new Error('conv2dFused: inference only (use noGrad, or conv2d + batchNorm2d for training)');
  const { params, outShape } = conv2dGeometry(x, w, options);
  const out = into ?? empty(outShape, 'float32', x.backend);
  checkInto(out, outShape, 'conv2dFused');
  x.backend.conv2d(x, w, out, params, epilogue);
  return out;
}

export interface BatchNormOptions {
  training: boolean;
  momentum?: number;
  eps?: number;
  /** Apply ReLU to the output in the same pass (and its mask in the backward pass). */
  relu?: boolean;
  /** Write the output into this view (e.g. its place in a concatenation) instead of a new tensor. */
  into?: Tensor;
}

/** An output view given by the caller must have the op's output shape. */
function checkInto(out: Tensor, shape: readonly number[], op: string): void {
  if (out.shape.length !== shape.length || out.shape.some((n, d) => n !== shape[d]))
    throw new Error(`${op}: the output view has shape [${out.shape}], the op produces [${shape}]`);
}

/**
 * Batch norm over the channels of an NCHW tensor, as torch.nn.functional.batch_norm: in training,
 * normalise with the batch mean and biased variance and update the running mean and unbiased running
 * variance in place with `momentum`; in evaluation, normalise with the running statistics.
 */
export function batchNorm2d(x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor, options: BatchNormOptions): Tensor {
  x.check('batch_norm');
  const { training, momentum = 0.1, eps = 1e-5, relu = false, into } = options;
  if (x.rank !== 4) throw new Error(`batch_norm: expected an NCHW input, got shape [${x.shape}]`);
  const [N, C, H, W] = x.shape;
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
    ['running_mean', runningMean],
    ['running_var', runningVar],
  ] as const) {
    if (t.rank !== 1 || t.shape[0] !== C) throw new Error(`batch_norm: ${name} has shape [${t.shape}], expected [${C}] for input [${x.shape}]`);
  }
  if (training && N * H * W < 2) throw new Error(`batch_norm: expected more than 1 value per channel when training, got input [${x.shape}]`);
  const backend = x.backend;
  const shape = x.shape;
  const out = into ?? empty(shape, 'float32', backend);
  checkInto(out, shape, 'batch_norm');
  // stats rows: mean, invstd, scale, shift (training also updates the running statistics).
  const stats = empty([4, C], 'float32', backend);
  backend.batchNorm(x, weight, bias, runningMean, runningVar, stats, out, { training, relu, momentum, eps });
  if (training) {
    runningMean.version++;
    runningVar.version++;
  }

  return record(relu ? 'batch_norm_relu' : 'batch_norm', [x, weight, bias], out, (g) => {
    const dWeight = gradientBuffer(weight);
    const dBias = gradientBuffer(bias);
    const dx = x.requiresGrad ? empty(shape, 'float32', backend) : null;
    backend.batchNormGrad(g, x, relu ? out : null, stats, dx, dWeight, dBias, training);
    return [dx, weight.requiresGrad ? dWeight : null, bias.requiresGrad ? dBias : null];
  });
}

export interface PoolOptions {
  kernel: number;
  stride: number;
  padding: number;
}

export function maxPool2d(x: Tensor, p: PoolOptions): Tensor {
  x.check('max_pool2d');
  if (x.rank !== 4) throw new Error(`max_pool2d: expected an NCHW input, got shape [${x.shape}]`);
  if (p.padding * 2 > p.kernel) throw new Error(`max_pool2d: padding ${p.padding} must be at most half of kernel size ${p.kernel}`);
  const [N, C, H, W] = x.shape;
  const OH = Math.floor((H + 2 * p.padding - p.kernel) / p.stride) + 1;
  const OW = Math.floor((W + 2 * p.padding - p.kernel) / p.stride) + 1;
  const backend = x.backend;
  const out = empty([N, C, OH, OW], 'float32', backend);
  // The argmax only where the backward pass will run (not in inference).
  if (!isGradEnabled() || !x.requiresGrad) {
    backend.maxPool2d(x, out, null, p);
    return out;
  }
  const argmax = empty([N, C, OH, OW], 'int32', backend);
  backend.maxPool2d(x, out, argmax, p);
  return record('max_pool2d', [x], out, (g) => {
    const dx = empty(x.shape, 'float32', backend);
    backend.maxPool2dGrad(g, argmax, dx, p);
    return [dx];
  });
}

/** y = x w^T + b for x [B, I], w [O, I], b [O]. */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  x.check('linear');
  const [B, I] = x.shape;
  const [O, I2] = w.shape;
  if (x.rank !== 2 || w.rank !== 2 || I !== I2)
    throw new Error(`linear: input [${x.shape}] does not match weight [${w.shape}] (expected input [batch, ${I2}])`);
  if (b && (b.rank !== 1 || b.shape[0] !== O)) throw new Error(`linear: bias has shape [${b.shape}], expected [${O}]`);
  const backend = x.backend;
  const out = empty([B, O], 'float32', backend);
  // out^T [O, B] = w [O, I] . x^T [I, B], so the bias is a per-row epilogue.
  const as3 = (t: Tensor, shape: number[], strides: number[]) => t.view([1, ...shape], [0, ...strides]);
  backend.matmul(as3(w, [O, I], [w.strides[0], w.strides[1]]), as3(x, [I, B], [x.strides[1], x.strides[0]]), as3(out, [O, B], [1, O]), {
    epilogue: b ? { shift: b } : undefined,
  });
  const inputs = b ? [x, w, b] : [x, w];
  return record('linear', inputs, out, (g) => {
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    if (x.requiresGrad) {
      dx = empty([B, I], 'float32', backend);
      backend.matmul(as3(g, [B, O], [g.strides[0], g.strides[1]]), as3(w, [O, I], [w.strides[0], w.strides[1]]), as3(dx, [B, I], [I, 1]));
    }
    if (w.requiresGrad) {
      dw = gradientBuffer(w);
      backend.matmul(as3(g, [O, B], [g.strides[1], g.strides[0]]), as3(x, [B, I], [x.strides[0], x.strides[1]]), as3(dw, [O, I], [I, 1]));
    }
    const db = b?.requiresGrad ? reduceTo([E.in(0)], [g], [O])[0] : null;
    return b ? [dx, dw, db] : [dx, dw];
  });
}

/** Mean softmax cross-entropy of logits [B, K] against int32 class indices [B]; a scalar. */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  logits.check('cross_entropy');
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== logits.shape[0])
    throw new Error(`cross_entropy: logits [${logits.shape}] and labels [${labels.shape}] do not match (expected [B, classes] and [B])`);
  if (labels.dtype !== 'int32') throw new Error('cross_entropy: labels must be an int32 tensor of class indices');
  const backend = logits.backend;
  const loss = empty([], 'float32', backend);
  backend.crossEntropy(logits, labels, loss);
  return record('cross_entropy', [logits], loss, (g) => {
    const d = empty(logits.shape, 'float32', backend);
    backend.crossEntropyGrad(logits, labels, g, d);
    return [d];
  });
}
