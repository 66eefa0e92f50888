// Every kernel and its backward on each software adapter, in both device profiles, against the CPU
// reference, on small shapes and on awkward ones: batch 1, odd sizes, channel counts that are not
// multiples of 4 or of the tiles.

import { describe, expect, it } from 'vitest';
import { allChecks, compareCheck, SMALL } from '../src/autograd/selfcheck.js';
import { cpu, targetBackend, TEST_TARGETS } from './gpu.js';

const shapes = [
  { label: 'small', shapes: SMALL },
  { label: 'batch 1, odd sizes', shapes: { batch: 1, height: 13, width: 5, channels: 7 } },
  { label: 'larger than one tile', shapes: { batch: 3, height: 17, width: 19, channels: 67 } },
];

for (const target of TEST_TARGETS) {
  for (const { label, shapes: s } of shapes) {
    describe(`${target.label}: kernels vs CPU reference (${label})`, () => {
      for (const check of allChecks(s)) {
        it(check.name, async () => {
          const result = await compareCheck(check, await targetBackend(target), cpu);
          expect(result.error).toBeUndefined();
          expect(result.ok, `max abs error ${result.maxAbsError}`).toBe(true);
        });
      }
    });
  }
}
