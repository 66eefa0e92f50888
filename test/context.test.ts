// The GPU runtime under the kernels: bind groups made once and reused across repeated steps (and
// never reused for other buffers, ranges or uniform slots); recorded dispatches replayed (a
// prediction's forward), their buffers kept from everyone else until discarded, and recorded again
// when a weight changes; and the Node opener's way of awaiting the bindings' promises between pauses
// of the thread (it resolves and rejects as the promise does).

import { describe, expect, it } from 'vitest';
import type { GpuBackend } from '../src/backends/gpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { full, tensor } from '../src/autograd/ops/creation.js';
import { assign } from '../src/autograd/ops/plain.js';
import { noGrad } from '../src/autograd/tape.js';
import { keep, type Tensor, tidy } from '../src/autograd/tensor.js';
import { memoKernel } from '../src/gpu/context.js';
import { openGpu } from '../src/gpu/device.js';
import { discardRecordedForward, evaluateLogits } from '../src/model/predict.js';
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

for (const target of TEST_TARGETS) {
  describe(`recorded forwards (${target.label})`, () => {
    const shape = [2, 3, 32, 32];
    const images = (seed: number) => Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(seed * 1000 + i));
    const freshLogits = async (model: ShuffleNetV2, x: Float32Array) => {
      model.eval();
      const logits = tidy(() => noGrad(() => model.forward(tensor(x, shape))));
      const values = await logits.data();
      logits.dispose();
      return Array.from(values);
    };

    it('replays a forward to the logits a fresh forward gives, and leaves the buffers other work took alone', async () => {
      const b = (await targetBackend(target)) as GpuBackend;
      setBackend(b);
      const model = new ShuffleNetV2('x0_5', 3);
      const pool = b.gpu.pool;
      // A fresh forward first: the folded batch norms and transposed weights it caches stay.
      await freshLogits(model, images(0));
      expect(pool.pinnedBytes).toBe(0);
      expect(Array.from(await evaluateLogits(model, images(1), shape))).toEqual(await freshLogits(model, images(1)));
      expect(pool.pinnedBytes).toBeGreaterThan(0);
      for (const seed of [2, 3]) {
        // Tensors made between replays: the replay must write none of their buffers.
        const others = [64, 4096, 24 * 16 * 16 * 2, 3 * 32 * 32 * 2].map((n) => keep(full([n], 7)));
        expect(Array.from(await evaluateLogits(model, images(seed), shape))).toEqual(await freshLogits(model, images(seed)));
        for (const t of others) {
          expect(new Set(await t.data())).toEqual(new Set([7]));
          t.dispose();
        }
      }
      discardRecordedForward(model);
      expect(pool.pinnedBytes).toBe(0);
    });

    it('derives the folded batch norms and transposed weights outside the recording: a replay issues only the forward’s own dispatches', async () => {
      const b = (await targetBackend(target)) as GpuBackend;
      setBackend(b);
      const model = new ShuffleNetV2('x0_5', 3); // never run: nothing folded or transposed yet
      await evaluateLogits(model, images(5), shape);
      const beforeReplay = b.gpu.dispatches;
      const replayed = Array.from(await evaluateLogits(model, images(6), shape));
      const beforeFresh = b.gpu.dispatches;
      const fresh = await freshLogits(model, images(6));
      expect(beforeFresh - beforeReplay).toBe(b.gpu.dispatches - beforeFresh);
      // The caches' buffers are none of the recording's, which its replays write.
      expect(replayed).toEqual(fresh);
      discardRecordedForward(model);
    });

    it('records again when a weight or a running statistic changes', async () => {
      const b = (await targetBackend(target)) as GpuBackend;
      setBackend(b);
      const model = new ShuffleNetV2('x0_5', 3);
      // Folded batch norms cached before the recording: its replays read them, not recompute them.
      await freshLogits(model, images(4));
      await evaluateLogits(model, images(4), shape);
      const state = new Map(model.namedState());
      for (const [name, value] of [
        ['stage3.0.branch2.0.weight', 0.01],
        ['conv5.1.running_var', 2],
      ] as const) {
        const t = state.get(name) as Tensor;
        tidy(() => assign(t, full(t.shape, value)));
        expect(Array.from(await evaluateLogits(model, images(4), shape))).toEqual(await freshLogits(model, images(4)));
      }
      discardRecordedForward(model);
    });
  });
}

describe('work outside a recording (Gpu.unrecorded)', () => {
  it('is not recorded, and takes none of the buffers the recording took, even those it gave back, nested too', async () => {
    const { gpu } = (await targetBackend(TEST_TARGETS[0])) as GpuBackend;
    let inside: GPUBuffer | undefined;
    let outside: GPUBuffer | undefined;
    const recording = gpu.record(() => {
      inside = gpu.pool.acquire(4096);
      gpu.pool.release(inside);
      outside = gpu.unrecorded(() => gpu.unrecorded(() => gpu.pool.acquire(4096)));
    });
    expect(outside).toBeDefined();
    expect(outside).not.toBe(inside);
    expect(recording.buffers).toEqual([inside]);
    gpu.pool.release(outside as GPUBuffer);
    gpu.discard(recording);
  });
});

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
