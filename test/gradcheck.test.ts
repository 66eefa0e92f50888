// Every backward pass against central finite differences of its forward pass, on the CPU reference
// in float64: d/dx_i sum(op(x) * R) ~ (f(x + h e_i) - f(x - h e_i)) / 2h at sampled elements i.

import { describe, expect, it } from 'vitest';
import { CpuBackend, readFloat64 } from '../src/backends/cpu.js';
import { allChecks, makeInputs, weightedSum } from '../src/autograd/selfcheck.js';
import { noGrad } from '../src/autograd/tape.js';
import { tidy } from '../src/autograd/tensor.js';

const cpu64 = new CpuBackend('float64');
const STEP = 1e-6;
const SAMPLES = 12;

describe('backward passes vs central finite differences (float64 CPU reference)', () => {
  const shapes = { batch: 2, height: 7, width: 5, channels: 5 };
  for (const check of allChecks(shapes).filter((c) => c.forward && c.wrt)) {
    it(check.name, () => {
      tidy(() => {
        const inputs = makeInputs(check, cpu64, 7);
        const analytic = readFloat64(check.run(inputs));
        const fresh = makeInputs(check, cpu64, 7);
        const target = fresh[check.wrt!];
        const storage = target.storage.handle as Float64Array;
        const loss = () => noGrad(() => readFloat64(weightedSum(check.forward!(fresh)))[0]);
        const stride = Math.max(1, Math.floor(target.size / SAMPLES));
        for (let i = 0; i < target.size; i += stride) {
          const original = storage[i];
          storage[i] = original + STEP;
          const up = loss();
          storage[i] = original - STEP;
          const down = loss();
          storage[i] = original;
          const numeric = (up - down) / (2 * STEP);
          expect(Math.abs(analytic[i] - numeric), `element ${i}: analytic ${analytic[i]}, numeric ${numeric}`).toBeLessThan(
            1e-6 * Math.max(1, Math.abs(numeric)) + 1e-7,
          );
        }
      });
    });
  }
});
