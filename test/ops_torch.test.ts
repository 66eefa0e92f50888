// The engine's ops against PyTorch: outputs and gradients recorded by
// scripts/fixtures/make_op_fixtures.py (torch 1.13), on the GPU and on the CPU reference.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { Adam, AdamW, type Optimizer, SGD } from '../src/autograd/optim.js';
import { intTensor, tensor } from '../src/autograd/ops/creation.js';
import { mul } from '../src/autograd/ops/elementwise.js';
import { batchNorm2d, conv2d, crossEntropy, linear, maxPool2d } from '../src/autograd/ops/nn.js';
import { sum } from '../src/autograd/ops/reduce.js';
import { backward, noGrad } from '../src/autograd/tape.js';
import { type Tensor, tidy } from '../src/autograd/tensor.js';
import { cpu, targetBackend, TEST_TARGETS } from './gpu.js';

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/ops/ops.json', import.meta.url), 'utf8'));

async function expectClose(t: Tensor, want: number[], tolerance = 1e-4): Promise<void> {
  const got = await t.data();
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  expect(worst).toBeLessThan(tolerance);
}

const leaf = (data: number[], shape: number[], b: Backend) => {
  const t = tensor(data, shape, b);
  t.requiresGrad = true;
  return t;
};

for (const target of [...TEST_TARGETS, null]) {
  const label = target?.label ?? 'cpu';
  const backend = () => (target ? targetBackend(target) : Promise.resolve(cpu));
  describe(`ops vs PyTorch (${label})`, () => {
    for (const name of ['conv2d_stem', 'conv2d_grouped', 'conv2d_pointwise', 'depthwise_s1', 'depthwise_s2']) {
      it(`${name}: output, input and weight gradients`, async () => {
        const c = fixtures[name];
        const b = await backend();
        const [x, w, y] = tidy(() => {
          const x = leaf(c.x, c.x_shape, b);
          const w = leaf(c.w, c.w_shape, b);
          const y = conv2d(x, w, { stride: c.stride, padding: c.padding, groups: c.groups });
          backward(sum(mul(y, tensor(c.r, y.shape, b))));
          return [x, w, y];
        });
        await expectClose(y, c.y);
        await expectClose(x.grad!, c.dx);
        await expectClose(w.grad!, c.dw);
      });
    }

    it('batch norm: running statistics over three training steps, output and gradients, evaluation', async () => {
      const c = fixtures.batchnorm;
      const b = await backend();
      const C = c.shape[1];
      const weight = leaf(c.weight, [C], b);
      const bias = leaf(c.bias, [C], b);
      const runningMean = tensor(new Array(C).fill(0), [C], b);
      const runningVar = tensor(new Array(C).fill(1), [C], b);
      let x!: Tensor;
      let y!: Tensor;
      for (let step = 0; step < 3; step++) {
        x = leaf(c.xs[step], c.shape, b);
        y = batchNorm2d(x, weight, bias, runningMean, runningVar, { training: true });
        await expectClose(runningMean, c.running[step].mean);
        await expectClose(runningVar, c.running[step].var);
      }
      backward(sum(mul(y, tensor(c.r, c.shape, b))));
      await expectClose(y, c.y);
      await expectClose(x.grad!, c.dx);
      await expectClose(weight.grad!, c.dweight);
      await expectClose(bias.grad!, c.dbias);
      const yEval = noGrad(() => batchNorm2d(tensor(c.x_eval, c.eval_shape, b), weight, bias, runningMean, runningVar, { training: false }));
      await expectClose(yEval, c.y_eval);
    });

    it('cross-entropy: mean loss and logit gradients', async () => {
      const c = fixtures.cross_entropy;
      const b = await backend();
      const logits = leaf(c.logits, c.shape, b);
      const loss = crossEntropy(logits, intTensor(c.labels, [c.labels.length], b));
      backward(loss);
      await expectClose(loss, [c.loss]);
      await expectClose(logits.grad!, c.dlogits);
    });

    it('max pool 3x3 stride 2 padding 1: output and gradient', async () => {
      const c = fixtures.maxpool;
      const b = await backend();
      const x = leaf(c.x, c.shape, b);
      const y = maxPool2d(x, { kernel: 3, stride: 2, padding: 1 });
      backward(sum(mul(y, tensor(c.r, y.shape, b))));
      await expectClose(y, c.y);
      await expectClose(x.grad!, c.dx);
    });

    it('linear: output and gradients', async () => {
      const c = fixtures.linear;
      const b = await backend();
      const [x, w, bias] = [leaf(c.x, c.x_shape, b), leaf(c.w, c.w_shape, b), leaf(c.b, [c.w_shape[0]], b)];
      const y = linear(x, w, bias);
      backward(sum(mul(y, tensor(c.r, y.shape, b))));
      await expectClose(y, c.y);
      await expectClose(x.grad!, c.dx);
      await expectClose(w.grad!, c.dw);
      await expectClose(bias.grad!, c.db);
    });

    const optimizers: Record<string, (p: Tensor) => Optimizer> = {
      sgd: (p) => new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 4e-5 }),
      sgd_plain: (p) => new SGD([p], { lr: 0.1 }),
      adam: (p) => new Adam([p], { lr: 0.01, weightDecay: 1e-3 }),
      adamw: (p) => new AdamW([p], { lr: 0.01, weightDecay: 0.01 }),
    };
    for (const [name, make] of Object.entries(optimizers)) {
      it(`${name}: parameter after each of four steps`, async () => {
        const c = fixtures.optimizers;
        const b = await backend();
        const p = leaf(c.p0, c.shape, b);
        const opt = make(p);
        for (let step = 0; step < 4; step++) {
          p.grad = tensor(c.grads[step], c.shape, b);
          opt.step();
          await expectClose(p, c.after[name][step], 1e-6);
        }
      });
    }
  });
}
