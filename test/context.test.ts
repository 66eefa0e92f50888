// The GPU runtime under the kernels: bind groups made once and reused across repeated steps (and
// never reused for other buffers, ranges or uniform slots), and the Node opener's way of awaiting the
// bindings' promises between pauses of the thread (it resolves and rejects as the promise does).

import { describe, expect, it } from 'vitest';
import type { GpuBackend } from '../src/backends/gpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { tensor } from '../src/autograd/ops/creation.js';
import { noGrad } from '../src/autograd/tape.js';
import { tidy } from '../src/autograd/tensor.js';
import { memoKernel } from '../src/gpu/context.js';
import { openGpu } from '../src/gpu/device.js';
import { ShuffleNetV2 } from '../src/model/shufflenet.js';
import { targetBackend, TEST_TARGETS } from './gpu.js';

/** y[i] = x[i] * P.scale + i, over P.n elements. */
const scaled = memoKernel('test_scaled', () => ({
  params: ['n', 'scale'],
  wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < P.n) { y[gid.x] = x[gid.x] * f32(P.scale) + f32(gid.x); }
}
`,
}));

for (const target of TEST_TARGETS) {
  describe(`bind groups (${target.label})`, () => {
    it('are reused only for the same buffers, ranges and uniform slot', async () => {
      const b = (await targetBackend(target)) as GpuBackend;
      setBackend(b);
      const gpu = b.gpu;
      const n = 64;
      const [x1, x2, y1, y2] = [0, 1, 2, 3].map(() => gpu.pool.acquire(4 * n * 2));
      gpu.upload(x1, new Float32Array(2 * n).fill(1));
      gpu.upload(x2, new Float32Array(2 * n).fill(2));
      const run = (x: GPUBuffer, y: GPUBuffer, scale: number, offset = 0) =>
        gpu.run(
          scaled(),
          [
            { buffer: x, offset, size: 4 * n },
            { buffer: y, offset, size: 4 * n },
          ],
          [1],
          { n, scale },
        );
      const read = async (y: GPUBuffer, offset = 0) => Array.from(new Float32Array(await gpu.read(y, offset, 4 * n)));
      const expected = (x: number, scale: number) => Array.from({ length: n }, (_, i) => x * scale + i);
      // Each flush starts the uniform slots again: every first dispatch below has the same slot.
      run(x1, y1, 3);
      expect(await read(y1)).toEqual(expected(1, 3));
      run(x2, y2, 3);
      expect(await read(y2)).toEqual(expected(2, 3));
      run(x1, y2, 5);
      expect(await read(y2)).toEqual(expected(1, 5));
      run(x2, y1, 7, 4 * n);
      expect(await read(y1, 4 * n)).toEqual(expected(2, 7));
      expect(await read(y1)).toEqual(expected(1, 3));
      const created = gpu.bindGroupsCreated;
      run(x2, y2, 11);
      expect(await read(y2)).toEqual(expected(2, 11));
      expect(gpu.bindGroupsCreated).toBe(created);
      for (const buffer of [x1, x2, y1, y2]) gpu.pool.release(buffer);
    });

    it('a repeated inference forward creates none once warm', async () => {
      const b = (await targetBackend(target)) as GpuBackend;
      setBackend(b);
      const model = new ShuffleNetV2('x0_5', 2);
      model.eval();
      const images = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i));
      const forward = () => tidy(() => void noGrad(() => model.forward(tensor(images, [2, 3, 32, 32]))));
      // The first forward folds the batch norms into the convolutions and caches them, and the pool's
      // free lists settle into the order the forward takes its buffers in.
      for (let i = 0; i < 3; i++) {
        forward();
        await b.sync();
      }
      const created = b.gpu.bindGroupsCreated;
      for (let i = 0; i < 2; i++) {
        forward();
        await b.sync();
        expect(b.gpu.bindGroupsCreated).toBe(created);
      }
    });
  });
}

describe('settling the bindings’ promises (Node)', () => {
  it('resolves with the value and rejects with the error of the promise', async () => {
    const { settle } = await openGpu(TEST_TARGETS[0].adapter);
    expect(settle).toBeDefined();
    const later = <T>(f: () => T) =>
      new Promise<T>((resolve, reject) =>
        setTimeout(() => {
          try {
            resolve(f());
          } catch (e) {
            reject(e);
          }
        }, 5),
      );
    await expect(settle?.(later(() => 42))).resolves.toBe(42);
    await expect(
      settle?.(
        later(() => {
          throw new Error('lost');
        }),
      ),
    ).rejects.toThrow('lost');
    await expect(settle?.(Promise.resolve('now'))).resolves.toBe('now');
  });
});
