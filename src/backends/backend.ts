// The primitives every backend provides: the GPU backend runs them as WGSL kernels, the CPU backend
// runs the plain reference. Autograd ops are written once on top of them. Every primitive writes
// into an output the caller allocated (a view, so in-place updates and writes into slices work).

import type { Expr } from '../kernels/expr.js';
import type { AdamHyper, SgdHyper } from '../reference/optim.js';
import type { AdapterDescription } from '../gpu/device.js';
import type { DType, Storage, Tensor } from '../autograd/tensor.js';

export interface Conv2dParams {
  stride: [number, number];
  padding: [number, number];
  groups: number;
}

/** Applied per output channel after a convolution or per output row after a matmul: y = relu?(acc * scale + shift). */
export interface Epilogue {
  scale?: Tensor;
  shift?: Tensor;
  relu?: boolean;
}

export interface PoolParams {
  kernel: number;
  stride: number;
  padding: number;
}

export type { AdamHyper, SgdHyper };

export interface Backend {
  readonly name: string;
  /** The GPU adapter, or null for the CPU reference. */
  readonly adapter: AdapterDescription | null;

  alloc(elements: number, dtype: DType): Storage;
  upload(data: Float32Array | Int32Array): Storage;
  free(storage: Storage): void;
  /** The view's elements in row-major order. */
  read(t: Tensor): Promise<Float32Array | Int32Array>;
  /** Overwrites a contiguous tensor's elements, after all work recorded so far. */
  write(t: Tensor, data: Float32Array): void;
  /** Waits until all work recorded so far has finished. */
  sync(): Promise<void>;
  /**
   * Runs `work`, which derives from weights what a cache keeps until they change (a folded batch
   * norm, a transposed weight): on a GPU outside any recorded forward, which replays only what
   * follows from its input.
   */
  cached<T>(work: () => T): T;

  /** out = expr(inputs), all of out's shape (inputs broadcast by stride-0 views). */
  map(expr: Expr, inputs: Tensor[], out: Tensor, floats?: number[]): void;
  /**
   * out[k] = sum of exprs[k](inputs) over the dimensions where `reduceDims` is true. Inputs have the
   * full shape; out has shape [exprs.length, ...that shape with reduced dimensions set to 1].
   */
  reduce(exprs: Expr[], inputs: Tensor[], out: Tensor, reduceDims: boolean[], floats?: number[]): void;

  /** out[b] = epilogue(a[b] . b[b]) for [B, M, K] x [B, K, N] views; with `sumBatches`, out [1, M, N] is the sum over b. */
  matmul(a: Tensor, b: Tensor, out: Tensor, options?: { epilogue?: Epilogue; sumBatches?: boolean }): void;
  conv2d(x: Tensor, w: Tensor, out: Tensor, p: Conv2dParams, epilogue?: Epilogue): void;
  conv2dGradInput(dy: Tensor, w: Tensor, dx: Tensor, p: Conv2dParams): void;
  conv2dGradWeight(dy: Tensor, x: Tensor, dw: Tensor, p: Conv2dParams): void;
  /**
   * Batch-norm statistics and affine into stats [4, C] (mean, invstd, scale = weight * invstd,
   * shift = bias - mean * scale): in training from x over N, H, W, updating the running mean and the
   * unbiased running variance in place; in evaluation (x null) from the running statistics.
   */
  batchNormStats(
    x: Tensor | null,
    weight: Tensor,
    bias: Tensor,
    runningMean: Tensor,
    runningVar: Tensor,
    stats: Tensor,
    o: { momentum: number; eps: number },
  ): void;
  /**
   * Batch norm of x into out = relu?(x * scale + shift), with the
   * statistics as batchNormStats computes them (from x in training, from the running statistics in
   * evaluation) into stats.
   */
  batchNorm(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    runningMean: Tensor,
    runningVar: Tensor,
    stats: Tensor,
    out: Tensor,
    o: { training: boolean; relu: boolean; momentum: number; eps: number },
  ): void;
  /**
   * Batch-norm backward, per channel: dBias = sum g', dWeight = invstd * sum g' (x - mean), and, unless
   * dx is null, dx = a g' + b x + d (a = scale; b, d from the sums in training, 0 in evaluation); g' is
   * g masked by y > 0 when y is given.
   */
  batchNormGrad(g: Tensor, x: Tensor, y: Tensor | null, stats: Tensor, dx: Tensor | null, dWeight: Tensor, dBias: Tensor, training: boolean): void;
  /** argmax holds the flat index (h * W + w) of each output's maximum within its input plane; null where no backward pass needs it. */
  maxPool2d(x: Tensor, out: Tensor, argmax: Tensor | null, p: PoolParams): void;
  maxPool2dGrad(dy: Tensor, argmax: Tensor, dx: Tensor, p: PoolParams): void;
  /** Mean softmax cross-entropy of logits [B, K] against int32 labels [B], into a [1] tensor. */
  crossEntropy(logits: Tensor, labels: Tensor, loss: Tensor): void;
  crossEntropyGrad(logits: Tensor, labels: Tensor, gradLoss: Tensor, dLogits: Tensor): void;
  /** In place: param, momentum buffer. */
  sgdStep(param: Tensor, grad: Tensor, momentum: Tensor, h: SgdHyper): void;
  /** In place: param, first and second moments. */
  adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, h: AdamHyper): void;
}

/** Row `row` of a [rows, C] tensor as a per-channel operand broadcast to the NCHW `shape`. */
export function channelRow(t: Tensor, row: number, shape: readonly number[]): Tensor {
  return t.view(shape, [0, 1, 0, 0], t.offset + row * t.shape[1]);
}
