// GPU memory stays flat: after warm-up (two steps: the first has no gradients or momentum buffers to
// replace yet), training steps take every buffer from the pool (none is created) and give back
// everything they used (nothing leaks from step to step). The frozen backbone takes no gradient
// memory: backward does not go through it, and the classifier's gradients land in the optimizer's
// arena; its classifier update is the one the full step gives the classifier.

import { describe, expect, it } from 'vitest';
import type { GpuBackend } from '../src/backends/gpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { type Optimizer, SGD } from '../src/autograd/optim.js';
import { intTensor, tensor } from '../src/autograd/ops/creation.js';
import { crossEntropy } from '../src/autograd/ops/nn.js';
import { backward } from '../src/autograd/tape.js';
import { tidy } from '../src/autograd/tensor.js';
import { ShuffleNetV2 } from '../src/model/shufflenet.js';
import { gpuBackend, targetBackend, TEST_TARGETS } from './gpu.js';

it('a training step allocates no GPU buffer after warm-up, and frees all it used', async () => {
  const backend = (await gpuBackend()) as GpuBackend;
  setBackend(backend);
  const pool = backend.gpu.pool;
  const model = new ShuffleNetV2('x0_5', 2);
  const optimizer = new SGD(
    model.namedParameters().map(([, p]) => p),
    { lr: 0.01, momentum: 0.9, weightDecay: 4e-5 },
  );
  const images = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i));
  const step = () =>
    tidy(() => {
      optimizer.zeroGrad();
      backward(crossEntropy(model.forward(tensor(images, [2, 3, 32, 32])), intTensor([0, 1])));
      optimizer.step();
    });
  for (let i = 0; i < 2; i++) {
    step();
    await backend.sync();
  }
  const after = { created: pool.created, held: pool.heldBytes, inUse: pool.inUseBytes };
  for (let i = 0; i < 3; i++) {
    step();
    await backend.sync();
    expect({ created: pool.created, held: pool.heldBytes, inUse: pool.inUseBytes }).toEqual(after);
  }
});

for (const target of TEST_TARGETS) {
  describe(`frozen backbone (${target.label})`, () => {
    it('allocates no gradient memory for the backbone and gives the classifier the update the full step gives it', async () => {
      const b = (await targetBackend(target)) as GpuBackend;
      setBackend(b);
      const images = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i));
      const step = (model: ShuffleNetV2, opt: Optimizer, duringBackward?: () => void) =>
        tidy(() => {
          opt.zeroGrad();
          const loss = crossEntropy(model.forward(tensor(images, [2, 3, 32, 32])), intTensor([0, 1]));
          duringBackward?.();
          backward(loss);
          opt.step();
        });
      const options = { lr: 0.1, momentum: 0.9, weightDecay: 4e-5 };
      const full = new ShuffleNetV2('x0_5', 2, mulberry(7));
      step(
        full,
        new SGD(
          full.namedParameters().map(([, p]) => p),
          options,
        ),
      );

      const frozen = new ShuffleNetV2('x0_5', 2, mulberry(7));
      frozen.freezeBackbone();
      const trainable = frozen.namedParameters().filter(([, p]) => p.requiresGrad);
      expect(trainable.map(([n]) => n)).toEqual(['fc.weight', 'fc.bias']);
      const opt = new SGD(
        trainable.map(([, p]) => p),
        options,
      );
      // What backward takes from the pool: the classifier's gradients land in the optimizer's slots,
      // so at most the bias's reduction and the small head gradients, nothing of the backbone's size.
      const pool = b.gpu.pool;
      const acquire = pool.acquire.bind(pool);
      let acquired = 0;
      let counting = false;
      pool.acquire = (bytes: number) => {
        if (counting) acquired += bytes;
        return acquire(bytes);
      };
      try {
        step(frozen, opt, () => (counting = true));
      } finally {
        pool.acquire = acquire;
      }
      const backboneBytes = 4 * frozen.namedParameters().reduce((n, [name, p]) => n + (name.startsWith('fc.') ? 0 : p.size), 0);
      expect(acquired).toBeLessThan(64 * 1024);
      expect(acquired).toBeLessThan(backboneBytes / 100);
      for (const name of ['fc.weight', 'fc.bias']) {
        const got = await frozen
          .namedParameters()
          .find(([n]) => n === name)![1]
          .floats();
        const want = await full
          .namedParameters()
          .find(([n]) => n === name)![1]
          .floats();
        expectClose(got, want, 1e-5);
      }
      // And the backbone did not move.
      const conv = frozen.namedParameters().find(([n]) => n === 'conv1.0.weight')![1];
      const fresh = new ShuffleNetV2('x0_5', 2, mulberry(7)).namedParameters().find(([n]) => n === 'conv1.0.weight')![1];
      expectClose(await conv.floats(), await fresh.floats(), 0);
    });
  });
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tolerance: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

/** Seeded uniform [0, 1) numbers (mulberry32), so that two models get the same weights. */
function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
