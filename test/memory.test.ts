// GPU memory stays flat: after warm-up (two steps: the first has no gradients or momentum buffers to
// replace yet), training steps take every buffer from the pool (none is created) and give back
// everything they used (nothing leaks from step to step).

import { expect, it } from 'vitest';
import type { GpuBackend } from '../src/backends/gpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { SGD } from '../src/autograd/optim.js';
import { intTensor, tensor } from '../src/autograd/ops/creation.js';
import { crossEntropy } from '../src/autograd/ops/nn.js';
import { backward } from '../src/autograd/tape.js';
import { tidy } from '../src/autograd/tensor.js';
import { ShuffleNetV2 } from '../src/model/shufflenet.js';
import { gpuBackend } from './gpu.js';

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
