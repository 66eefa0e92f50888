// The CPU reference backend (`--adapter cpu`, and the oracle of the tests): every primitive gathers
// its views into contiguous float64 arrays, runs the plain loops of src/reference, and scatters the
// result into the output view.

import { batchNormInputGrad } from '../kernels/batchnorm_grad.js';
import { batchNormAffine } from '../kernels/batchnorm_stats.js';
import { evaluate, type Expr } from '../kernels/expr.js';
import * as conv from '../reference/conv.js';
import * as nn from '../reference/nn.js';
import * as optim from '../reference/optim.js';
import { type CpuView, forEachIndex, gather, scatter } from '../reference/strided.js';
import { type AdamHyper, type Backend, type Conv2dParams, channelRow, type Epilogue, type PoolParams, type SgdHyper } from './backend.js';
import { type DType, Storage, Tensor } from '../autograd/tensor.js';

function view(t: Tensor): CpuView {
  return { data: t.storage.handle as CpuView['data'], shape: t.shape, strides: t.strides, offset: t.offset };
}

const values = (t: Tensor) => gather(view(t));

/** A CPU tensor's values at the backend's full precision (float64 for gradient checks). */
export const readFloat64 = values;

function applyEpilogue(y: Float64Array, rows: number, inner: number, epilogue?: Epilogue): Float64Array {
  if (!epilogue) return y;
  const scale = epilogue.scale && values(epilogue.scale);
  const shift = epilogue.shift && values(epilogue.shift);
  for (let i = 0; i < y.length; i++) {
    const r = Math.floor(i / inner) % rows;
    let v = y[i];
    if (scale) v *= scale[r];
    if (shift) v += shift[r];
    y[i] = epilogue.relu ? Math.max(v, 0) : v;
  }
  return y;
}

function convShape(x: Tensor, w: Tensor, y: Tensor, p: Conv2dParams): conv.ConvShape {
  const [N, C, H, W] = x.shape;
  const [K, , KH, KW] = w.shape;
  const [, , OH, OW] = y.shape;
  return { N, C, H, W, K, KH, KW, OH, OW, stride: p.stride, padding: p.padding, groups: p.groups };
}

export class CpuBackend implements Backend {
  readonly name: string;
  readonly adapter = null;

  /** With 'float64', float tensors are stored in float64 (for finite-difference gradient checks). */
  constructor(readonly precision: 'float32' | 'float64' = 'float32') {
    this.name = precision === 'float32' ? 'cpu' : 'cpu-float64';
  }

  alloc(elements: number, dtype: DType): Storage {
    const data = dtype === 'int32' ? new Int32Array(elements) : this.precision === 'float64' ? new Float64Array(elements) : new Float32Array(elements);
    return new Storage(this, data, elements);
  }

  upload(data: Float32Array | Int32Array): Storage {
    const storage = this.alloc(data.length, data instanceof Int32Array ? 'int32' : 'float32');
    (storage.handle as CpuView['data']).set(data);
    return storage;
  }

  free(): void {}

  cached<T>(work: () => T): T {
    return work();
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    const flat = values(t);
    return t.dtype === 'int32' ? Int32Array.from(flat) : Float32Array.from(flat);
  }

  write(t: Tensor, data: Float32Array): void {
    scatter(data, view(t));
  }

  async sync(): Promise<void> {}

  map(expr: Expr, inputs: Tensor[], out: Tensor, floats: number[] = []): void {
    const ins = inputs.map(values);
    const y = new Float64Array(out.size);
    const args = new Float64Array(ins.length);
    for (let i = 0; i < y.length; i++) {
      ins.forEach((x, j) => (args[j] = x[i]));
      y[i] = evaluate(expr, args, floats);
    }
    scatter(y, view(out));
  }

  reduce(exprs: Expr[], inputs: Tensor[], out: Tensor, reduceDims: boolean[], floats: number[] = []): void {
    const shape = inputs[0].shape;
    const ins = inputs.map(values);
    const keptShape = shape.map((n, d) => (reduceDims[d] ? 1 : n));
    const keptSize = keptShape.reduce((a, b) => a * b, 1);
    // Storage-free index map: flat input index -> flat kept index, via strides of the kept shape.
    const keptStrides: number[] = [];
    let s = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      keptStrides[d] = reduceDims[d] ? 0 : s;
      s *= keptShape[d];
    }
    const sums = new Float64Array(exprs.length * keptSize);
    const args = new Float64Array(ins.length);
    forEachIndex(shape, keptStrides, 0, (flat, kept) => {
      ins.forEach((x, j) => (args[j] = x[flat]));
      exprs.forEach((e, k) => (sums[k * keptSize + kept] += evaluate(e, args, floats)));
    });
    scatter(sums, view(out));
  }

  matmul(a: Tensor, b: Tensor, out: Tensor, options: { epilogue?: Epilogue; sumBatches?: boolean } = {}): void {
    const [B, M, K] = a.shape;
    const N = b.shape[2];
    let y = conv.matmul(values(a), values(b), B, M, K, N);
    if (options.sumBatches) {
      const sum = new Float64Array(M * N);
      y.forEach((v, i) => (sum[i % (M * N)] += v));
      y = sum;
    }
    scatter(applyEpilogue(y, M, N, options.epilogue), view(out));
  }

  conv2d(x: Tensor, w: Tensor, out: Tensor, p: Conv2dParams, epilogue?: Epilogue): void {
    const s = convShape(x, w, out, p);
    scatter(applyEpilogue(conv.conv2d(values(x), values(w), s), s.K, s.OH * s.OW, epilogue), view(out));
  }

  conv2dGradInput(dy: Tensor, w: Tensor, dx: Tensor, p: Conv2dParams): void {
    scatter(conv.conv2dGradInput(values(dy), values(w), convShape(dx, w, dy, p)), view(dx));
  }

  conv2dGradWeight(dy: Tensor, x: Tensor, dw: Tensor, p: Conv2dParams): void {
    scatter(conv.conv2dGradWeight(values(dy), values(x), convShape(x, dw, dy, p)), view(dw));
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
    const [N, , H, W] = x?.shape ?? [0, 0, 0, 0];
    const [rm, rv] = [values(runningMean), values(runningVar)];
    scatter(nn.batchNormStats(x && values(x), N, weight.size, H * W, values(weight), values(bias), rm, rv, o.momentum, o.eps), view(stats));
    if (!x) return;
    scatter(rm, view(runningMean));
    scatter(rv, view(runningVar));
  }

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
    this.batchNormStats(o.training ? x : null, weight, bias, runningMean, runningVar, stats, o);
    const rows = [2, 3].map((i) => channelRow(stats, i, x.shape));
    this.map(batchNormAffine(o.relu), [x, ...rows], out);
    for (const r of rows) r.dispose();
  }

  batchNormGrad(g: Tensor, x: Tensor, y: Tensor | null, stats: Tensor, dx: Tensor | null, dWeight: Tensor, dBias: Tensor, training: boolean): void {
    const [N, C, H, W] = x.shape;
    const r = nn.batchNormGrad(values(g), values(x), y && values(y), values(stats), N, C, H * W, training);
    scatter(r.dWeight, view(dWeight));
    scatter(r.dBias, view(dBias));
    if (!dx) return;
    const coef = new Tensor(this.alloc(3 * C, 'float32'), [3, C]);
    scatter(r.coef, view(coef));
    const rows = [0, 1, 2].map((i) => channelRow(coef, i, x.shape));
    this.map(batchNormInputGrad(y !== null), [g, x, ...rows, ...(y ? [y] : [])], dx);
    for (const t of [...rows, coef]) t.dispose();
  }

  maxPool2d(x: Tensor, out: Tensor, argmax: Tensor | null, p: PoolParams): void {
    const [N, C, H, W] = x.shape;
    const [, , OH, OW] = out.shape;
    const r = nn.maxPool2d(values(x), N * C, H, W, OH, OW, p.kernel, p.stride, p.padding);
    scatter(r.y, view(out));
    if (argmax) scatter(r.argmax, view(argmax));
  }

  maxPool2dGrad(dy: Tensor, argmax: Tensor, dx: Tensor): void {
    const [N, C, H, W] = dx.shape;
    const [, , OH, OW] = dy.shape;
    scatter(nn.maxPool2dGrad(values(dy), Int32Array.from(values(argmax)), N * C, H * W, OH * OW), view(dx));
  }

  crossEntropy(logits: Tensor, labels: Tensor, loss: Tensor): void {
    const [B, K] = logits.shape;
    scatter([nn.crossEntropy(values(logits), Int32Array.from(values(labels)), B, K)], view(loss));
  }

  crossEntropyGrad(logits: Tensor, labels: Tensor, gradLoss: Tensor, dLogits: Tensor): void {
    const [B, K] = logits.shape;
    scatter(nn.crossEntropyGrad(values(logits), Int32Array.from(values(labels)), B, K, values(gradLoss)[0]), view(dLogits));
  }

  sgdStep(param: Tensor, grad: Tensor, momentum: Tensor, h: SgdHyper): void {
    const [p, g, buf] = [param, grad, momentum].map((t) => Float32Array.from(values(t)));
    optim.sgdStep(p, g, buf, h);
    scatter(p, view(param));
    scatter(buf, view(momentum));
  }

  adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, h: AdamHyper): void {
    const [p, g, mm, vv] = [param, grad, m, v].map((t) => Float32Array.from(values(t)));
    optim.adamStep(p, g, mm, vv, h);
    scatter(p, view(param));
    scatter(mm, view(m));
    scatter(vv, view(v));
  }
}
