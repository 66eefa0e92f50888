// Every kernel and its backward pass, checked against the CPU reference: each check builds the same
// seeded random inputs on two backends, runs one op (forward, or forward + backward of
// sum(output * R) for a fixed random R), and compares what comes out. `doctor` runs these on small
// shapes; the tests run them on awkward ones too.

import type { Backend } from '../backends/backend.js';
import { SGD, Adam, AdamW, type Optimizer } from './optim.js';
import { intTensor, tensor } from './ops/creation.js';
import { fused, mul, relu, scaleShift } from './ops/elementwise.js';
import { batchNorm2d, conv2d, conv2dFused, crossEntropy, linear, maxPool2d } from './ops/nn.js';
import { mean, sum } from './ops/reduce.js';
import { chunk, concatShuffle, narrow, transpose } from './ops/shape.js';
import { E } from '../kernels/expr.js';
import { backward, noGrad } from './tape.js';
import { type Tensor, tidy } from './tensor.js';

/** mulberry32: a tiny seeded generator, so both backends see identical inputs. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface InputSpec {
  shape: number[];
  /** Integer class labels in [0, classes). */
  classes?: number;
  /** Values in [0.5, 1.5) instead of [-1, 1) (variances, scales). */
  positive?: boolean;
  requiresGrad?: boolean;
}

export interface Check {
  name: string;
  inputs: Record<string, InputSpec>;
  /** Runs the op; returns the tensor to compare (for backward checks, after backward()). */
  run: (x: Record<string, Tensor>) => Tensor;
  /** Largest tolerated |gpu - cpu| relative to max(1, max |cpu|). */
  tolerance?: number;
  /** For backward checks: the op, and the input whose gradient `run` returns. */
  forward?: (x: Record<string, Tensor>) => Tensor;
  wrt?: string;
}

export function makeInputs(check: Check, backend: Backend, seed: number): Record<string, Tensor> {
  const next = random(seed);
  const out: Record<string, Tensor> = {};
  for (const [name, spec] of Object.entries(check.inputs)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.classes !== undefined) {
      out[name] = intTensor(
        Array.from({ length: size }, () => Math.floor(next() * spec.classes!)),
        spec.shape,
        backend,
      );
      continue;
    }
    const data = Float32Array.from({ length: size }, () => (spec.positive ? 0.5 + next() : 2 * next() - 1));
    out[name] = tensor(data, spec.shape, backend);
    out[name].requiresGrad = spec.requiresGrad ?? false;
  }
  return out;
}

/** Runs `check` on `backend` and reads back the tensor it returns. */
export async function runCheck(check: Check, backend: Backend, seed = 1): Promise<Float32Array> {
  const result = tidy(() => check.run(makeInputs(check, backend, seed)));
  const values = await result.data();
  result.dispose();
  return Float32Array.from(values);
}

/** sum(out * R) for a fixed random R: a scalar whose gradient reaches every output element differently. */
export function weightedSum(out: Tensor): Tensor {
  const next = random(99);
  const weights = tensor(
    Float32Array.from({ length: out.size }, () => 2 * next() - 1),
    out.shape,
    out.backend,
  );
  return sum(mul(out, weights));
}

/** Backward of weightedSum(out), returning the gradient of input `wrt`. */
function gradOf(out: Tensor, inputs: Record<string, Tensor>, wrt: string): Tensor {
  backward(weightedSum(out));
  const g = inputs[wrt].grad;
  if (!g) throw new Error(`no gradient reached ${wrt}`);
  return g;
}

/** A forward check and one backward check per differentiable input. */
export function opChecks(name: string, inputs: Record<string, InputSpec>, op: (x: Record<string, Tensor>) => Tensor, tolerance?: number): Check[] {
  const checks: Check[] = [{ name: `${name}.forward`, inputs, run: op, tolerance }];
  for (const [input, spec] of Object.entries(inputs)) {
    if (!spec.requiresGrad) continue;
    checks.push({ name: `${name}.backward.${input}`, inputs, run: (x) => gradOf(op(x), x, input), tolerance, forward: op, wrt: input });
  }
  return checks;
}

function optimizerCheck(name: string, shape: number[], make: (p: Tensor) => Optimizer): Check {
  return {
    name,
    inputs: { p: { shape, requiresGrad: true }, g1: { shape }, g2: { shape } },
    run: (x) => {
      const opt = make(x.p);
      for (const g of [x.g1, x.g2]) {
        x.p.grad = g;
        opt.step();
      }
      x.p.grad = null;
      return x.p;
    },
  };
}

/**
 * opChecks with the inputs named in `held` handed to an optimizer first (after a small parameter of
 * its own, so that their slots start past offset 0): the kernels then read those weights from, and
 * backward writes their gradients into, views of the optimizer's arenas. The checks carry no
 * `forward`: the finite-difference test perturbs an input's own memory, which the move leaves.
 */
function arenaChecks(name: string, inputs: Record<string, InputSpec>, held: string[], op: (x: Record<string, Tensor>) => Tensor): Check[] {
  const inArena = (x: Record<string, Tensor>) => {
    const first = tensor([0, 0, 0], [3], x[held[0]].backend);
    first.requiresGrad = true;
    new SGD([first, ...held.map((n) => x[n])], { lr: 0 });
  };
  return opChecks(`${name}.arena`, inputs, op).map(({ forward: _forward, wrt, ...check }) => ({
    ...check,
    run: (x) => {
      inArena(x);
      return wrt ? gradOf(op(x), x, wrt) : op(x);
    },
  }));
}

export interface CheckShapes {
  batch: number;
  /** Odd sizes exercise the edges. */
  height: number;
  width: number;
  channels: number;
}

export const SMALL: CheckShapes = { batch: 2, height: 9, width: 7, channels: 6 };

/** The full list of checks, on shapes derived from `s`. */
export function allChecks(s: CheckShapes = SMALL): Check[] {
  const { batch: N, height: H, width: W, channels: C } = s;
  const C2 = C + 3;
  const even = 2 * Math.ceil(C / 2);
  const grad = (shape: number[]): InputSpec => ({ shape, requiresGrad: true });
  const plain = (shape: number[]): InputSpec => ({ shape });
  const bnInputs = { x: grad([N, C, H, W]), weight: grad([C]), bias: grad([C]), rm: plain([C]), rv: { shape: [C], positive: true } };
  return [
    ...opChecks('conv2d', { x: grad([N, 3, H, W]), w: grad([C, 3, 3, 3]) }, (x) => conv2d(x.x, x.w, { stride: 2, padding: 1 })),
    ...opChecks('conv2d.grouped', { x: grad([N, 4, H, W]), w: grad([even, 2, 3, 3]) }, (x) => conv2d(x.x, x.w, { stride: 1, padding: 1, groups: 2 })),
    ...opChecks('conv2d.pointwise', { x: grad([N, C2, H, W]), w: grad([C, C2 - 2, 1, 1]) }, (x) => conv2d(narrow(x.x, 1, 2, C2 - 2), x.w)),
    ...opChecks('conv2d.pointwise.grouped', { x: grad([N, 4, H, W]), w: grad([6, 2, 1, 1]) }, (x) => conv2d(x.x, x.w, { groups: 2 })),
    ...opChecks('depthwise.stride1', { x: grad([N, C, H, W]), w: grad([C, 1, 3, 3]) }, (x) => conv2d(x.x, x.w, { padding: 1, groups: C })),
    ...opChecks('depthwise.stride2', { x: grad([N, C, H, W]), w: grad([C, 1, 3, 3]) }, (x) => conv2d(x.x, x.w, { stride: 2, padding: 1, groups: C })),
    {
      name: 'conv2d.fused_epilogue',
      inputs: { x: plain([N, C2, H, W]), w: plain([C, C2, 1, 1]), scale: plain([C]), shift: plain([C]) },
      run: (x) => noGrad(() => conv2dFused(x.x, x.w, {}, { scale: x.scale, shift: x.shift, relu: true })),
    },
    {
      name: 'depthwise.fused_epilogue',
      inputs: { x: plain([N, C, H, W]), w: plain([C, 1, 3, 3]), scale: plain([C]), shift: plain([C]) },
      run: (x) => noGrad(() => conv2dFused(x.x, x.w, { stride: 2, padding: 1, groups: C }, { scale: x.scale, shift: x.shift, relu: true })),
    },
    ...opChecks('batchnorm.train', bnInputs, (x) => batchNorm2d(x.x, x.weight, x.bias, x.rm, x.rv, { training: true })),
    ...opChecks('batchnorm_relu.train', bnInputs, (x) => batchNorm2d(x.x, x.weight, x.bias, x.rm, x.rv, { training: true, relu: true })),
    ...arenaChecks('batchnorm_relu.train', bnInputs, ['weight', 'bias'], (x) => batchNorm2d(x.x, x.weight, x.bias, x.rm, x.rv, { training: true, relu: true })),
    ...opChecks('batchnorm.eval', bnInputs, (x) => batchNorm2d(x.x, x.weight, x.bias, x.rm, x.rv, { training: false })),
    {
      name: 'batchnorm.running_stats',
      inputs: bnInputs,
      run: (x) => {
        for (let i = 0; i < 3; i++) batchNorm2d(scaleShift(x.x, 1 + i, i), x.weight, x.bias, x.rm, x.rv, { training: true });
        return fused(E.add(E.in(0), E.mul(E.in(1), E.c(10))), [x.rm, x.rv]);
      },
    },
    ...opChecks('concat_shuffle', { a: grad([N, C, H, W]), b: grad([N, C, H, W]) }, (x) => concatShuffle(x.a, x.b)),
    ...opChecks('channel_split', { x: grad([N, 2 * C, H, W]) }, (x) => relu(narrow(x.x, 1, C, C))),
    ...opChecks('chunk', { x: grad([N, 2 * C, H, W]) }, (x) => {
      const [a, b] = chunk(x.x, 2, 1);
      return concatShuffle(relu(b), a);
    }),
    ...opChecks('elementwise.fused', { a: grad([N, C, H, W]), s: grad([1, C, 1, 1]), t: grad([C, 1, 1]) }, (x) =>
      fused(E.relu(E.add(E.mul(E.in(0), E.in(1)), E.in(2))), [x.a, x.s, x.t]),
    ),
    ...opChecks('reduce.sum', { x: grad([N, C, H, W]) }, (x) => sum(x.x, [0, 2, 3], true)),
    ...opChecks('global_avg_pool', { x: grad([N, C, H, W]) }, (x) => mean(x.x, [2, 3])),
    ...opChecks('maxpool', { x: grad([N, C, H, W]) }, (x) => maxPool2d(x.x, { kernel: 3, stride: 2, padding: 1 })),
    ...opChecks('linear', { x: grad([N + 3, C2]), w: grad([5, C2]), b: grad([5]) }, (x) => linear(x.x, x.w, x.b)),
    ...arenaChecks('linear', { x: grad([N + 3, C2]), w: grad([5, C2]), b: grad([5]) }, ['w', 'b'], (x) => linear(x.x, x.w, x.b)),
    ...arenaChecks('conv2d.stem', { x: grad([N, 3, H, W]), w: grad([C, 3, 3, 3]) }, ['w'], (x) => conv2d(x.x, x.w, { stride: 2, padding: 1 })),
    ...arenaChecks('conv2d.pointwise', { x: grad([N, C2, H, W]), w: grad([C, C2, 1, 1]) }, ['w'], (x) => conv2d(x.x, x.w)),
    ...arenaChecks('depthwise.stride1', { x: grad([N, C, H, W]), w: grad([C, 1, 3, 3]) }, ['w'], (x) => conv2d(x.x, x.w, { padding: 1, groups: C })),
    ...arenaChecks('depthwise.stride2', { x: grad([N, C, H, W]), w: grad([C, 1, 3, 3]) }, ['w'], (x) => conv2d(x.x, x.w, { stride: 2, padding: 1, groups: C })),
    ...opChecks('cross_entropy', { logits: grad([N + 3, 5]), labels: { shape: [N + 3], classes: 5 } }, (x) => crossEntropy(x.logits, x.labels)),
    // Logits as a transposed, offset view (column stride 1, row stride N + 4), labels at an offset.
    ...opChecks('cross_entropy.strided', { logits: grad([7, N + 4]), labels: { shape: [N + 5], classes: 7 } }, (x) =>
      crossEntropy(transpose(narrow(x.logits, 1, 1, N + 3), 0, 1), narrow(x.labels, 0, 2, N + 3)),
    ),
    optimizerCheck('sgd.step', [C, C2], (p) => new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 4e-5 })),
    optimizerCheck('adam.step', [C, C2], (p) => new Adam([p], { lr: 0.01, weightDecay: 1e-3 })),
    optimizerCheck('adamw.step', [C, C2], (p) => new AdamW([p], { lr: 0.01 })),
  ];
}

export interface CheckResult {
  name: string;
  ok: boolean;
  maxAbsError: number;
  error?: string;
}

/** Runs a check on both backends and compares. */
export async function compareCheck(check: Check, backend: Backend, reference: Backend, seed = 1): Promise<CheckResult> {
  return compareWith(check, backend, () => runCheck(check, reference, seed), seed);
}

/** Runs a check on `backend` and compares it with the reference values `want` gives. */
export async function compareWith(check: Check, backend: Backend, want: () => Promise<Float32Array>, seed = 1): Promise<CheckResult> {
  try {
    const got = await runCheck(check, backend, seed);
    return compareValues(check, got, await want());
  } catch (e) {
    return { name: check.name, ok: false, maxAbsError: Infinity, error: (e as Error).message };
  }
}

function compareValues(check: Check, got: Float32Array, want: Float32Array): CheckResult {
  if (got.length !== want.length) return { name: check.name, ok: false, maxAbsError: Infinity, error: `${got.length} values, expected ${want.length}` };
  let maxAbsError = 0;
  let scale = 1;
  for (let i = 0; i < want.length; i++) {
    maxAbsError = Math.max(maxAbsError, Math.abs(got[i] - want[i]) || (Number.isNaN(got[i]) !== Number.isNaN(want[i]) ? Infinity : 0));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return { name: check.name, ok: maxAbsError <= (check.tolerance ?? 1e-4) * scale, maxAbsError };
}
