// ONNX export of every width, in process: the CPU reference's logits against ONNX Runtime's on the
// exported graph, with batch-norm statistics fitted to the input batch (so that every layer shapes
// the logits), at two batch sizes through the one dynamic batch axis.

import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { tensor } from '../src/autograd/ops/creation.js';
import { noGrad } from '../src/autograd/tape.js';
import { tidy } from '../src/autograd/tensor.js';
import { BatchNorm2d } from '../src/model/module.js';
import { toOnnx } from '../src/model/onnx.js';
import { ShuffleNetV2, WIDTHS, type Width } from '../src/model/shufflenet.js';
import { loadStateDict } from '../src/model/state.js';
import { deterministicInput, deterministicState } from './helpers/deterministic.js';

const SIZE = 32;

describe('toOnnx', () => {
  for (const width of Object.keys(WIDTHS) as Width[]) {
    it(`${width}: ONNX Runtime gives the CPU reference's logits, batch 1 and 3`, async () => {
      setBackend(new CpuBackend());
      const model = new ShuffleNetV2(width, 5);
      loadStateDict(model, deterministicState(model));
      const x = deterministicInput(`onnx-${width}`, 3, SIZE);
      for (const m of model.modules()) if (m instanceof BatchNorm2d) m.momentum = 1;
      model.train();
      noGrad(() => tidy(() => model.forward(tensor(x, [3, 3, SIZE, SIZE]))));
      model.eval();
      const session = await ort.InferenceSession.create(await toOnnx(model, SIZE));
      for (const batch of [1, 3]) {
        const input = x.subarray(0, batch * 3 * SIZE * SIZE);
        const ours = await tidy(() => noGrad(() => model.forward(tensor(input, [batch, 3, SIZE, SIZE])))).data();
        const theirs = (await session.run({ input: new ort.Tensor('float32', Float32Array.from(input), [batch, 3, SIZE, SIZE]) })).logits;
        expect(theirs.dims).toEqual([batch, 5]);
        const spread = Math.max(...ours) - Math.min(...ours);
        expect(spread, 'logits that differ').toBeGreaterThan(0.1);
        // float32 rounding grows with the logits (up to about 50 here): 1e-4, or 1e-5 of the largest
        const tolerance = Math.max(1e-4, 1e-5 * Math.max(...Array.from(ours, Math.abs)));
        ours.forEach((v, i) => expect(Math.abs((theirs.data as Float32Array)[i] - v), `logit ${i}`).toBeLessThan(tolerance));
      }
    });
  }
});
