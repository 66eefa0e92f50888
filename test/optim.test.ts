// The multi-tensor optimizer: parameters, gradients and state in flat arenas, one dispatch per step.
// Checked against the per-parameter CPU reference of torch.optim (src/reference/optim.ts, one
// parameter at a time) with parameters of awkward sizes, some of them without a gradient in some
// steps (skipped, as PyTorch skips a parameter whose grad is None); gradient accumulation over two
// backward() calls without zeroGrad; zeroGrad doing no GPU work. (The frozen backbone: test/memory.test.ts.)

import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { GpuBackend } from '../src/backends/gpu.js';
import { Adam, AdamW, type Optimizer, SGD } from '../src/autograd/optim.js';
import { intTensor, tensor } from '../src/autograd/ops/creation.js';
import { add, mul } from '../src/autograd/ops/elementwise.js';
import { batchNorm2d, conv2d, crossEntropy, linear } from '../src/autograd/ops/nn.js';
import { mean, sum } from '../src/autograd/ops/reduce.js';
import { backward } from '../src/autograd/tape.js';
import { type Tensor, tidy } from '../src/autograd/tensor.js';
import * as reference from '../src/reference/optim.js';
import { cpu, targetBackend, TEST_TARGETS } from './gpu.js';

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

const SHAPES = [[7], [3, 5], [1], [130], [2, 3, 4, 5]];

type Kind = 'sgd' | 'sgd_plain' | 'adam' | 'adamw';
const OPTIMIZERS: Record<Kind, (ps: Tensor[]) => Optimizer> = {
  sgd: (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 4e-5 }),
  sgd_plain: (ps) => new SGD(ps, { lr: 0.1, weightDecay: 1e-2 }),
  adam: (ps) => new Adam(ps, { lr: 0.01, weightDecay: 1e-3 }),
  adamw: (ps) => new AdamW(ps, { lr: 0.01 }),
};

/** The reference: each parameter on its own, its own step count and buffers, float32 as torch.optim. */
function referenceRun(kind: Kind, grads: (Float32Array | null)[][], start: Float32Array[]): Float32Array[] {
  const p = start.map((v) => Float32Array.from(v));
  const buffers = start.map((v) => [new Float32Array(v.length), new Float32Array(v.length)]);
  const steps = start.map(() => 0);
  for (const stepGrads of grads) {
    stepGrads.forEach((g, i) => {
      if (!g) return;
      steps[i]++;
      const [a, b] = buffers[i];
      if (kind === 'sgd') reference.sgdStep(p[i], g, a, { lr: 0.1, momentum: 0.9, weightDecay: 4e-5, firstStep: steps[i] === 1 });
      else if (kind === 'sgd_plain') reference.sgdStep(p[i], g, a, { lr: 0.1, momentum: 0, weightDecay: 1e-2, firstStep: steps[i] === 1 });
      else {
        const decoupled = kind === 'adamw';
        reference.adamStep(p[i], g, a, b, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: decoupled ? 0.01 : 1e-3, decoupled, step: steps[i] });
      }
    });
  }
  return p;
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tolerance: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

const dispatchesOf = (b: Backend) => (b instanceof GpuBackend ? b.gpu.dispatches : 0);

for (const target of [...TEST_TARGETS, null]) {
  const label = target?.label ?? 'cpu';
  const backend = () => (target ? targetBackend(target) : Promise.resolve(cpu));

  describe(`multi-tensor optimizer (${label})`, () => {
    for (const kind of Object.keys(OPTIMIZERS) as Kind[]) {
      it(`${kind}: five parameters of odd sizes, some without a gradient in some steps, against the per-parameter reference`, async () => {
        const b = await backend();
        const start = SHAPES.map((s, i) =>
          values(
            s.reduce((x, y) => x * y, 1),
            10 + i,
          ),
        );
        const params = SHAPES.map((s, i) => {
          const t = tensor(start[i], s, b);
          t.requiresGrad = true;
          return t;
        });
        const opt = OPTIMIZERS[kind](params);
        // Step 1: all; step 2: the middle one has none (two runs); step 3: the first has none; step 4: all
        // again (the first is one step behind: its own run).
        const skips = [[], [2], [0], []];
        const grads = skips.map((skip, step) => params.map((p, i) => (skip.includes(i) ? null : values(p.size, 100 * step + i))));
        for (const [step, stepGrads] of grads.entries()) {
          opt.zeroGrad();
          // The gradients come through backward (sum(p * r) has gradient r), into the arena's slots.
          tidy(() => {
            const terms = params.flatMap((p, i) => (stepGrads[i] ? [sum(mul(p, tensor(stepGrads[i]!, p.shape, b)))] : []));
            backward(terms.reduce((a, t) => add(a, t)));
          });
          const before = dispatchesOf(b);
          opt.step();
          // One dispatch per run of neighbours in the same state. SGD: 1, 2 (around the skipped one), then
          // 1 (past the first step all alike); Adam (the step count matters): 1, 2, 3, 4.
          const runs = kind.startsWith('sgd') ? [1, 2, 1, 1] : [1, 2, 3, 4];
          if (b instanceof GpuBackend) expect(dispatchesOf(b) - before, `step ${step + 1}`).toBe(runs[step]);
        }
        const want = referenceRun(kind, grads, start);
        for (const [i, p] of params.entries()) expectClose(await p.floats(), want[i], 1e-6);
      });
    }

    it('a second backward() without zeroGrad adds up; zeroGrad does no GPU work and the next backward overwrites', async () => {
      const b = await backend();
      const inputs = [1, 7].map((seed) => tensor(values(2 * 5 * 6 * 7, seed), [2, 5, 6, 7], b));
      const make = (shape: number[], seed: number) => {
        const t = tensor(
          values(
            shape.reduce((p, q) => p * q, 1),
            seed,
          ),
          shape,
          b,
        );
        t.requiresGrad = true;
        return t;
      };
      const [w, bnWeight, bnBias, fcWeight, fcBias] = [make([4, 5, 3, 3], 2), make([4], 3), make([4], 4), make([3, 4], 5), make([3], 6)];
      const [runningMean, runningVar] = [tensor(new Float32Array(4), [4], b), tensor(new Float32Array(4).fill(1), [4], b)];
      const params = [w, bnWeight, bnBias, fcWeight, fcBias];
      const opt = new SGD(params, { lr: 0.1 });
      // Two different batches, so that a second pass that overwrote instead of adding would show.
      const pass = (x: Tensor) =>
        tidy(() => {
          const y = batchNorm2d(conv2d(x, w, { padding: 1 }), bnWeight, bnBias, runningMean, runningVar, { training: true, relu: true });
          backward(crossEntropy(linear(mean(y, [2, 3]), fcWeight, fcBias), intTensor([0, 2], [2], b)));
        });
      const gradients = () => Promise.all(params.map((p) => p.grad!.floats()));
      pass(inputs[0]);
      const first = await gradients();
      pass(inputs[1]);
      const both = await gradients();
      const before = dispatchesOf(b);
      opt.zeroGrad();
      expect(dispatchesOf(b)).toBe(before);
      expect(params.every((p) => p.grad === null)).toBe(true);
      pass(inputs[1]);
      const second = await gradients();
      for (const [i, g] of both.entries()) {
        expectClose(
          g,
          first[i].map((v, j) => v + second[i][j]),
          1e-5,
        );
      }
      // After zeroGrad the first batch's gradient again: written, not added to what the slot held.
      opt.zeroGrad();
      pass(inputs[0]);
      for (const [i, g] of (await gradients()).entries()) expectClose(g, first[i], 1e-5);
    });
  });
}
