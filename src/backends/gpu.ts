// The WebGPU backend: each primitive picks its WGSL kernels (1x1 convolutions become matrix
// products, depthwise ones have their own kernels, the rest im2col + a matrix product; input
// gradients of the latter a direct gather) and passes tensors as strided views, so slices and
// transposes reach the kernels without copies.

import type { Binding, Gpu } from '../gpu/context.js';
import { adamStep } from '../kernels/adam.js';
import { batchNormGrad, batchNormInputGrad } from '../kernels/batchnorm_grad.js';
import { channelSplit } from '../kernels/batchnorm_common.js';
import { batchNormAffine, batchNormStats } from '../kernels/batchnorm_stats.js';
import { conv2dDirect } from '../kernels/conv2d_direct.js';
import { conv2dGradInput } from '../kernels/conv2d_grad_input.js';
import { type ConvGeometry, EpilogueBindings } from '../kernels/conv_common.js';
import { crossEntropy } from '../kernels/cross_entropy.js';
import { crossEntropyGrad } from '../kernels/cross_entropy_grad.js';
import { depthwiseForward } from '../kernels/depthwise.js';
import { depthwiseGradInput } from '../kernels/depthwise_grad_input.js';
import { depthwiseGradWeight } from '../kernels/depthwise_grad_weight.js';
import { im2col } from '../kernels/im2col.js';
import { elementwise } from '../kernels/elementwise.js';
import { type Expr, E } from '../kernels/expr.js';
import type { View } from '../kernels/view.js';
import { matmul, matrix, quadsAlongColumns, splitCount, transposed } from '../kernels/matmul.js';
import { maxPool } from '../kernels/maxpool.js';
import { maxPoolGrad } from '../kernels/maxpool_grad.js';
import type { PoolGeometry } from '../kernels/window_common.js';
import { reduce } from '../kernels/reduce.js';
import { sgdStep } from '../kernels/sgd.js';
import type { AdamHyper, SgdHyper } from '../reference/optim.js';
import { type Backend, type Conv2dParams, channelRow, type Epilogue, type PoolParams } from './backend.js';
import { type DType, keep, Storage, Tensor } from '../autograd/tensor.js';

function binding(t: Tensor): Binding {
  return { buffer: t.storage.handle as GPUBuffer };
}

/**
 * A binding of a contiguous tensor's own elements, for kernels that address it from element 0 (the
 * depthwise kernels' and the input-gradient kernel's weights): its offset becomes the binding's.
 * A parameter in an optimizer's arena starts on a 256-byte boundary, which every device accepts.
 */
function fromStart(t: Tensor, alignment: number): Binding {
  const { off } = flat(t);
  if (off === 0) return binding(t);
  if ((off * 4) % alignment !== 0) throw new Error(`a weight at element offset ${off} cannot be bound from its start (alignment ${alignment} bytes)`);
  return { buffer: t.storage.handle as GPUBuffer, offset: off * 4, size: t.size * 4 };
}

function strided(t: Tensor): View {
  return { binding: binding(t), offset: t.offset, strides: t.strides };
}

/** A contiguous tensor as one run of elements: a view with a single unit stride. */
function flatRun(t: Tensor): View {
  const { binding, off } = flat(t);
  return { binding, offset: off, strides: [1] };
}

function flat(t: Tensor): { binding: Binding; off: number } {
  if (!t.isContiguous()) throw new Error(`expected a contiguous tensor, got shape [${t.shape}] strides [${t.strides}]`);
  return { binding: binding(t), off: t.offset };
}

/** Stride of the merged H*W dimension of an NCHW view, or null when H and W do not merge. */
function planeStride(t: Tensor): number | null {
  const [, , H, W] = t.shape;
  if (H === 1) return t.strides[3];
  if (W === 1) return t.strides[2];
  return t.strides[2] === W * t.strides[3] ? t.strides[3] : null;
}

/** An NCHW view as [N, C, S] with H and W merged into S: also the matrix [channel][position] of each image. */
function planeView(t: Tensor, op: string): View {
  const p = planeStride(t);
  if (p === null) throw new Error(`${op}: a view of shape [${t.shape}] with strides [${t.strides}] is not supported (height and width must merge)`);
  return matrix(binding(t), t.offset, t.strides[1], p, t.strides[0]);
}

/** The epilogue of group `group`'s output channels (kg per group). */
function groupEpilogue(epi: EpilogueBindings, group: number, kg: number): EpilogueBindings {
  if (group === 0) return epi;
  const shifted = (v?: View) => v && { ...v, offset: v.offset + group * kg };
  return new EpilogueBindings(shifted(epi.scale), shifted(epi.shift), epi.relu);
}

function epilogueBindings(e?: Epilogue): EpilogueBindings {
  const vector = (t?: Tensor) => (t ? flatRun(t) : undefined);
  return new EpilogueBindings(vector(e?.scale), vector(e?.shift), e?.relu ?? false);
}

function geometry(x: Tensor, w: Tensor, y: Tensor, p: Conv2dParams): ConvGeometry {
  const [N, C, H, W] = x.shape;
  const [K, , KH, KW] = w.shape;
  const [, , OH, OW] = y.shape;
  return {
    N,
    C,
    H,
    W,
    K,
    OH,
    OW,
    kernel: [KH, KW],
    stride: p.stride,
    padding: p.padding,
    groups: p.groups,
    x: strided(x),
    y: strided(y),
  };
}

const isPointwise = (w: Tensor, p: Conv2dParams) =>
  w.shape[2] === 1 && w.shape[3] === 1 && p.stride[0] === 1 && p.stride[1] === 1 && p.padding[0] === 0 && p.padding[1] === 0;

const isDepthwise = (x: Tensor, w: Tensor, p: Conv2dParams) => p.groups === x.shape[1] && w.shape[0] === p.groups && w.shape[1] === 1;

export class GpuBackend implements Backend {
  readonly name: string;
  private readonly transposedWeights = new WeakMap<Tensor, { version: number; t: Tensor }>();

  constructor(readonly gpu: Gpu) {
    this.name = gpu.adapter.device || gpu.adapter.description;
  }

  get adapter() {
    return this.gpu.adapter;
  }

  cached<T>(work: () => T): T {
    return this.gpu.unrecorded(work);
  }

  alloc(elements: number, _dtype: DType): Storage {
    return new Storage(this, this.gpu.pool.acquire(Math.max(elements, 1) * 4), elements);
  }

  upload(data: Float32Array | Int32Array): Storage {
    const storage = this.alloc(data.length, data instanceof Int32Array ? 'int32' : 'float32');
    this.gpu.upload(storage.handle as GPUBuffer, data);
    return storage;
  }

  free(storage: Storage): void {
    this.gpu.pool.release(storage.handle as GPUBuffer);
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    let source = t;
    if (!t.isContiguous()) {
      source = new Tensor(this.alloc(t.size, t.dtype), t.shape, undefined, 0, t.dtype);
      this.map(E.in(0), [t], source);
    }
    try {
      const bytes = await this.gpu.read(source.storage.handle as GPUBuffer, source.offset * 4, t.size * 4);
      return t.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes);
    } finally {
      if (source !== t) source.dispose();
    }
  }

  write(t: Tensor, data: Float32Array): void {
    const { off } = flat(t);
    this.gpu.upload(t.storage.handle as GPUBuffer, data, off * 4);
  }

  sync(): Promise<void> {
    return this.gpu.sync();
  }

  map(expr: Expr, inputs: Tensor[], out: Tensor, floats: number[] = []): void {
    elementwise(this.gpu, expr, inputs.map(strided), strided(out), out.shape, floats);
  }

  reduce(exprs: Expr[], inputs: Tensor[], out: Tensor, reduceDims: boolean[], floats: number[] = []): void {
    const outStrides = inputs[0].shape.map((_, d) => (reduceDims[d] ? 0 : out.strides[d + 1]));
    const target: View = { binding: binding(out), offset: out.offset, strides: outStrides };
    reduce(this.gpu, exprs, inputs.map(strided), target, out.strides[0], inputs[0].shape, reduceDims, floats);
  }

  matmul(a: Tensor, b: Tensor, out: Tensor, options: { epilogue?: Epilogue; sumBatches?: boolean } = {}): void {
    const [B, M, K] = a.shape;
    const N = b.shape[2];
    const operand = (t: Tensor): View => matrix(binding(t), t.offset, t.strides[1], t.strides[2], t.shape[0] === 1 ? 0 : t.strides[0]);
    this.product(M, N, K, B, operand(a), operand(b), operand(out), Boolean(options.sumBatches), epilogueBindings(options.epilogue));
  }

  /**
   * C = A.B per batch, or summed over batches through split partial products. `aTransposed` gives A^T
   * contiguous, should the product be computed transposed.
   */
  private product(
    M: number,
    N: number,
    K: number,
    batches: number,
    a: View,
    b: View,
    c: View,
    sumBatches: boolean,
    epilogue: EpilogueBindings,
    aTransposed?: () => View,
  ): void {
    if (!sumBatches) {
      // Transposed unless both sides already run as vec4 (weights along K, columns along N: 4x4 maps).
      const quads = quadsAlongColumns(a, K) && quadsAlongColumns(b, N);
      if (this.gpu.profile.transposeNarrowProducts && N < this.gpu.profile.narrowColumns && M % 4 === 0 && !quads)
        this.transposedProduct(M, N, K, batches, a, b, c, epilogue, aTransposed);
      else matmul(this.gpu, { M, N, K, a, b, c, batches, splits: batches, epilogue });
      return;
    }
    const splits = splitCount(this.gpu, M, N, batches);
    if (splits === 1) {
      matmul(this.gpu, { M, N, K, a, b, c, batches, splits: 1, epilogue });
      return;
    }
    if (epilogue.bindings.length > 0 || epilogue.relu) throw new Error('matmul: an epilogue cannot follow a sum over batches');
    const partial = this.gpu.pool.acquire(splits * M * N * 4);
    const partialOperand = matrix({ buffer: partial }, 0, N, 1, M * N);
    matmul(this.gpu, { M, N, K, a, b, c: partialOperand, batches, splits, epilogue });
    reduce(
      this.gpu,
      [E.in(0)],
      [{ binding: { buffer: partial }, offset: 0, strides: [M * N, N, 1] }],
      { binding: c.binding, offset: c.offset, strides: [0, c.strides[1], c.strides[2]] },
      0,
      [splits, M, N],
      [true, false, false],
    );
    this.gpu.pool.release(partial);
  }

  /**
   * C^T = B^T . A^T, for products with few columns (the small feature maps of the last stage): the
   * weight side then runs along the vectorised columns. A shared A (the weights) that is not already
   * unit-stride along M is transposed into a scratch buffer first (M x K floats, small).
   */
  private transposedProduct(
    M: number,
    N: number,
    K: number,
    batches: number,
    a: View,
    b: View,
    c: View,
    epilogue: EpilogueBindings,
    aTransposed?: () => View,
  ): void {
    let scratch: GPUBuffer | null = null;
    const [aBatch, aRow, aCol] = a.strides;
    let bT = transposed(a);
    if (aRow !== 1 && aTransposed) bT = aTransposed();
    else if (aRow !== 1 && aBatch === 0) {
      scratch = this.gpu.pool.acquire(M * K * 4);
      elementwise(
        this.gpu,
        E.in(0),
        [{ binding: a.binding, offset: a.offset, strides: [aCol, aRow] }],
        { binding: { buffer: scratch }, offset: 0, strides: [M, 1] },
        [K, M],
      );
      bT = matrix({ buffer: scratch }, 0, M, 1);
    }
    matmul(this.gpu, { M: N, N: M, K, a: transposed(b), b: bT, c: transposed(c), batches, splits: batches, epilogue, epilogueOnColumns: true });
    if (scratch) this.gpu.pool.release(scratch);
  }

  /** A convolution's weight as the matrix [K, R] transposed to [R, K], kept while the weight is unchanged. */
  private transposedWeight(w: Tensor): View {
    let entry = this.transposedWeights.get(w);
    if (entry?.version !== w.version) {
      entry?.t.dispose();
      const K = w.shape[0];
      const R = w.size / K;
      const t = this.cached(() => {
        const copy = keep(new Tensor(this.alloc(K * R, 'float32'), [R, K]));
        this.map(E.in(0), [w.view([R, K], [1, w.strides[0]], flat(w).off)], copy);
        return copy;
      });
      entry = { version: w.version, t };
      this.transposedWeights.set(w, entry);
    }
    return matrix(binding(entry.t), 0, entry.t.shape[1], 1);
  }

  private weight(w: Tensor): Binding {
    return fromStart(w, this.gpu.device.limits.minStorageBufferOffsetAlignment);
  }

  conv2d(x: Tensor, w: Tensor, out: Tensor, p: Conv2dParams, epilogue?: Epilogue): void {
    const epi = epilogueBindings(epilogue);
    const g = geometry(x, w, out, p);
    if (isDepthwise(x, w, p)) {
      depthwiseForward(this.gpu, g, this.weight(w), epi);
      return;
    }
    if (p.groups === 1 && g.C <= this.gpu.profile.directConvChannels && !isPointwise(w, p)) {
      conv2dDirect(this.gpu, g, this.weight(w), epi);
      return;
    }
    // Per group: out[n][k][pos] = sum over r of w[k][r] patches[n][r][pos].
    const kg = g.K / g.groups;
    const c0 = planeView(out, 'conv2d');
    const transposed = g.groups === 1 ? () => this.transposedWeight(w) : undefined;
    this.forEachPatchMatrix(x, w, p, g, (group, patches, rows, cols, images) => {
      const a = matrix(binding(w), w.offset + group * kg * rows, rows, 1);
      const [cBatch, cRow, cCol] = c0.strides;
      const c = matrix(c0.binding, c0.offset + images.first * cBatch + group * kg * cRow, cRow, cCol, cBatch);
      this.product(kg, cols, rows, images.count, a, patches, c, false, groupEpilogue(epi, group, kg), transposed);
    });
  }

  /** Images per im2col scratch buffer: as many as one storage binding holds (at least one). */
  private patchChunk(g: ConvGeometry, rows: number, cols: number): number {
    return Math.max(1, Math.min(g.N, Math.floor(this.gpu.largestBinding / (rows * cols * 4))));
  }

  /**
   * Calls `use` with each group's patch matrix [n][r][pos] (rows r = C/groups * KH * KW, columns the
   * output positions) for a run of images: the input itself for a 1x1 convolution (all images at
   * once), else im2col into a scratch buffer, in chunks of images that each fit one storage binding.
   */
  private forEachPatchMatrix(
    x: Tensor,
    w: Tensor,
    p: Conv2dParams,
    g: ConvGeometry,
    use: (group: number, patches: View, rows: number, cols: number, images: ImageChunk) => void,
  ): void {
    const rows = (g.C / g.groups) * g.kernel[0] * g.kernel[1];
    const cols = g.OH * g.OW;
    const xp = planeStride(x);
    if (isPointwise(w, p) && xp !== null) {
      for (let group = 0; group < g.groups; group++)
        use(group, matrix(binding(x), x.offset + group * rows * x.strides[1], x.strides[1], xp, x.strides[0]), rows, cols, {
          first: 0,
          count: g.N,
          index: 0,
        });
      return;
    }
    const chunk = this.patchChunk(g, rows, cols);
    const col = this.gpu.pool.acquire(chunk * rows * cols * 4);
    for (let first = 0, index = 0; first < g.N; first += chunk, index++) {
      const count = Math.min(chunk, g.N - first);
      const part: ConvGeometry = { ...g, N: count, x: { ...g.x, offset: g.x.offset + first * g.x.strides[0] } };
      for (let group = 0; group < g.groups; group++) {
        im2col(this.gpu, part, group, { buffer: col });
        use(group, matrix({ buffer: col }, 0, cols, 1, rows * cols), rows, cols, { first, count, index });
      }
    }
    this.gpu.pool.release(col);
  }

  conv2dGradInput(dy: Tensor, w: Tensor, dx: Tensor, p: Conv2dParams): void {
    const xp = planeStride(dx);
    const yp = planeStride(dy);
    if (isPointwise(w, p) && xp !== null && yp !== null) {
      const [N, C, H, W] = dx.shape;
      const K = w.shape[0];
      const cg = C / p.groups;
      const kg = K / p.groups;
      for (let g = 0; g < p.groups; g++) {
        // dx[n][c][pos] = sum over k of w[k][c] dy[n][k][pos]: A is the group's weight block transposed.
        const a = matrix(binding(w), w.offset + g * kg * cg, 1, cg);
        const b = matrix(binding(dy), dy.offset + g * kg * dy.strides[1], dy.strides[1], yp, dy.strides[0]);
        const c = matrix(binding(dx), dx.offset + g * cg * dx.strides[1], dx.strides[1], xp, dx.strides[0]);
        this.product(cg, H * W, kg, N, a, b, c, false, epilogueBindings());
      }
      return;
    }
    const g = geometry(dx, w, dy, p);
    if (isDepthwise(dx, w, p)) depthwiseGradInput(this.gpu, g, this.weight(w));
    else conv2dGradInput(this.gpu, g, this.weight(w));
  }

  conv2dGradWeight(dy: Tensor, x: Tensor, dw: Tensor, p: Conv2dParams): void {
    const { off } = flat(dw);
    const g = geometry(x, dw, dy, p);
    if (isDepthwise(x, dw, p)) {
      depthwiseGradWeight(this.gpu, g, binding(dw), off);
      return;
    }
    // Per group: dw[k][r] = sum over n, pos of dy[n][k][pos] patches[n][r][pos]. Where the patches
    // come in several chunks of images, each chunk's sum goes to its own slice of a scratch buffer,
    // and the slices are added up afterwards.
    const kg = g.K / g.groups;
    const a0 = planeView(dy, 'conv2d backward');
    const R = dw.size / g.K;
    const chunks = isPointwise(dw, p) && planeStride(x) !== null ? 1 : Math.ceil(g.N / this.patchChunk(g, R, g.OH * g.OW));
    const sums = chunks > 1 ? this.gpu.pool.acquire(chunks * dw.size * 4) : null;
    this.forEachPatchMatrix(x, dw, p, g, (group, patches, rows, cols, images) => {
      const [aBatch, aRow, aCol] = a0.strides;
      const a = matrix(a0.binding, a0.offset + images.first * aBatch + group * kg * aRow, aRow, aCol, aBatch);
      const c = sums ? matrix({ buffer: sums }, images.index * dw.size + group * kg * rows, rows, 1) : matrix(binding(dw), off + group * kg * rows, rows, 1);
      this.product(kg, rows, cols, images.count, a, transposed(patches), c, true, epilogueBindings());
    });
    if (!sums) return;
    reduce(
      this.gpu,
      [E.in(0)],
      [{ binding: { buffer: sums }, offset: 0, strides: [dw.size, 1] }],
      { binding: binding(dw), offset: off, strides: [0, 1] },
      0,
      [chunks, dw.size],
      [true, false],
    );
    this.gpu.pool.release(sums);
  }

  batchNormStats(
    x: Tensor | null,
    weight: Tensor,
    bias: Tensor,
    runningMean: Tensor,
    runningVar: Tensor,
    stats: Tensor,
    o: { momentum: number; eps: number },
  ): void {
    this.batchNormKernel(x, null, false, weight, bias, runningMean, runningVar, stats, { training: x !== null, ...o });
  }

  /** Where one invocation takes a whole channel (short channels, software adapters), the statistics kernel applies the affine too. */
  batchNorm(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    runningMean: Tensor,
    runningVar: Tensor,
    stats: Tensor,
    out: Tensor,
    o: { training: boolean; relu: boolean; momentum: number; eps: number },
  ): void {
    const fuse = this.appliesBatchNorm(x, out);
    this.batchNormKernel(o.training || fuse ? x : null, fuse ? out : null, o.relu, weight, bias, runningMean, runningVar, stats, o);
    if (fuse) return;
    const rows = [2, 3].map((i) => channelRow(stats, i, x.shape));
    this.map(batchNormAffine(o.relu), [x, ...rows], out);
    for (const r of rows) r.dispose();
  }

  /** Whether the statistics kernel writes y itself (one invocation per channel, y in a buffer of its own, planes that merge). */
  private appliesBatchNorm(x: Tensor, y: Tensor): boolean {
    return channelSplit(this.gpu, x.shape[0], x.shape[2] * x.shape[3]).serial && y.storage !== x.storage && planeStride(x) !== null && planeStride(y) !== null;
  }

  private batchNormKernel(
    x: Tensor | null,
    y: Tensor | null,
    relu: boolean,
    weight: Tensor,
    bias: Tensor,
    runningMean: Tensor,
    runningVar: Tensor,
    stats: Tensor,
    o: { training: boolean; momentum: number; eps: number },
  ): void {
    batchNormStats(this.gpu, {
      N: x?.shape[0] ?? 0,
      C: weight.size,
      HW: x ? x.shape[2] * x.shape[3] : 0,
      training: o.training,
      x: x && planeView(x, 'batch_norm'),
      y: y && planeView(y, 'batch_norm'),
      relu,
      weight: strided(weight),
      bias: strided(bias),
      runningMean: strided(runningMean),
      runningVar: strided(runningVar),
      stats: strided(stats),
      momentum: o.momentum,
      eps: o.eps,
    });
  }

  /** Where one invocation takes a whole channel (short channels, software adapters), the kernel of the sums writes dx too. */
  batchNormGrad(g: Tensor, x: Tensor, y: Tensor | null, stats: Tensor, dx: Tensor | null, dWeight: Tensor, dBias: Tensor, training: boolean): void {
    const [N, C, H, W] = x.shape;
    const op = 'batch_norm backward';
    const args = {
      N,
      C,
      HW: H * W,
      training,
      g: planeView(g, op),
      x: planeView(x, op),
      // A ReLU's mask from x where the statistics kernel wrote y (bit for bit the same: ReluMask).
      relu: y === null ? null : this.appliesBatchNorm(x, y) ? ('affine' as const) : { y: planeView(y, op) },
      stats: strided(stats),
      dWeight: strided(dWeight),
      dBias: strided(dBias),
    };
    const own = (t: Tensor) => [g, x, y].every((u) => u?.storage !== t.storage);
    if (dx && channelSplit(this.gpu, N, H * W).serial && own(dx) && planeStride(dx) !== null) {
      batchNormGrad(this.gpu, { ...args, out: { dx: planeView(dx, op) } });
      return;
    }
    const coef = new Tensor(this.alloc(3 * C, 'float32'), [3, C]);
    batchNormGrad(this.gpu, { ...args, out: { coef: strided(coef) } });
    const rows = [0, 1, 2].map((i) => channelRow(coef, i, x.shape));
    if (dx) this.map(batchNormInputGrad(y !== null), [g, x, ...rows, ...(y ? [y] : [])], dx);
    for (const t of [...rows, coef]) t.dispose();
  }

  maxPool2d(x: Tensor, out: Tensor, argmax: Tensor | null, p: PoolParams): void {
    const g = poolGeometry(x, out, p);
    maxPool(this.gpu, g, strided(x), strided(out), argmax && strided(argmax));
  }

  maxPool2dGrad(dy: Tensor, argmax: Tensor, dx: Tensor, p: PoolParams): void {
    const g = poolGeometry(dx, dy, p);
    maxPoolGrad(this.gpu, g, strided(dy), strided(argmax), strided(dx));
  }

  crossEntropy(logits: Tensor, labels: Tensor, loss: Tensor): void {
    const [B, K] = logits.shape;
    crossEntropy(this.gpu, B, K, strided(logits), strided(labels), strided(loss));
  }

  crossEntropyGrad(logits: Tensor, labels: Tensor, gradLoss: Tensor, dLogits: Tensor): void {
    const [B, K] = logits.shape;
    crossEntropyGrad(this.gpu, B, K, strided(logits), strided(labels), strided(gradLoss), strided(dLogits));
  }

  sgdStep(param: Tensor, grad: Tensor, momentum: Tensor, h: SgdHyper): void {
    sgdStep(this.gpu, param.size, flatRun(param), flatRun(grad), h.momentum !== 0 ? flatRun(momentum) : null, h);
  }

  adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, h: AdamHyper): void {
    adamStep(this.gpu, param.size, flatRun(param), flatRun(grad), flatRun(m), flatRun(v), h);
  }
}

/** A run of images of a batch: the first, how many, and which run it is. */
interface ImageChunk {
  first: number;
  count: number;
  index: number;
}

function poolGeometry(x: Tensor, y: Tensor, p: PoolParams): PoolGeometry {
  const [N, C, H, W] = x.shape;
  const [, , OH, OW] = y.shape;
  return { N, C, H, W, OH, OW, kernel: p.kernel, stride: p.stride, padding: p.padding };
}
