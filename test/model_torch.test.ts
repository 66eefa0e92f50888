// ShuffleNet V2 against torchvision 0.14, all four widths, on every test target (adapter x device profile): eval-mode and
// train-mode logits, every parameter's gradient (x0_5, x1_0; and x0_5 with about half the ReLUs off),
// running statistics, the legacy .pth format of the official ImageNet files, our .pth of every width
// in torchvision's layout. Fixtures: scripts/fixtures/make_model_fixtures.py.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { setBackend } from '../src/autograd/default_backend.js';
import { intTensor, tensor } from '../src/autograd/ops/creation.js';
import { crossEntropy } from '../src/autograd/ops/nn.js';
import { backward, noGrad } from '../src/autograd/tape.js';
import { readCheckpoint, readPth, writePth } from '../src/model/checkpoint/index.js';
import { BatchNorm2d } from '../src/model/module.js';
import { ShuffleNetV2, type Width } from '../src/model/shufflenet.js';
import { loadStateDict, stateDict } from '../src/model/state.js';
import { type Target, targetBackend, TEST_TARGETS } from './gpu.js';
import { type BatchNormInit, deterministicInput, deterministicState, MOSTLY_ON } from './helpers/deterministic.js';

const fixtureDir = new URL('./fixtures/model/', import.meta.url);
const fixtures = JSON.parse(readFileSync(new URL('model.json', fixtureDir), 'utf8'));
const { classes, batch, size, labels } = fixtures;
const inputKey: string = fixtures.input_key;

const halfOff = fixtures.half_off as {
  init: { bn_scale: number; bn_shift: number; running_var: number };
  input_key: string;
  relu_off_fraction: number;
  logits_train: number[];
  grads: Record<string, GradSummary>;
};
const HALF_OFF: BatchNormInit = { bnScale: halfOff.init.bn_scale, bnShift: halfOff.init.bn_shift, runningVar: halfOff.init.running_var };

interface GradSummary {
  sum: number;
  absmax: number;
  indices: number[];
  values: number[];
}

async function model(target: Target, width: Width, init: BatchNormInit = MOSTLY_ON): Promise<ShuffleNetV2> {
  setBackend(await targetBackend(target));
  const m = new ShuffleNetV2(width, classes);
  loadStateDict(m, deterministicState(m, init));
  return m;
}

const input = (key = inputKey) => tensor(deterministicInput(key, batch, size), [batch, 3, size, size]);

/** As the fixture script: running statistics := the input batch's (one train-mode pass, momentum 1). */
function calibrate(m: ShuffleNetV2): void {
  const norms = m.modules().filter((x): x is BatchNorm2d => x instanceof BatchNorm2d);
  norms.forEach((bn) => (bn.momentum = 1));
  m.train();
  noGrad(() => m.forward(input()));
  norms.forEach((bn) => (bn.momentum = 0.1));
}

function expectClose(got: ArrayLike<number>, want: number[], tolerance: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThan(tolerance);
}

/** Every parameter's gradient against the fixture's summary (sum, eight samples), within 1e-3 of the largest. */
async function expectGradients(m: ShuffleNetV2, want: Record<string, GradSummary>): Promise<void> {
  const params = m.namedParameters();
  expect(params.map(([k]) => k)).toEqual(Object.keys(want));
  // Gradients that are zero in exact arithmetic are rounding noise: judge them on the largest gradient's scale.
  const floor = 1e-3 * Math.max(...Object.values(want).map((w) => w.absmax));
  for (const [key, p] of params) {
    const g = await p.grad!.data();
    const w = want[key];
    const scale = Math.max(w.absmax, floor);
    let sum = 0;
    for (const v of g) sum += v;
    expect(Math.abs(sum - w.sum) / (scale * Math.sqrt(g.length)), `${key} sum`).toBeLessThan(1e-3);
    w.indices.forEach((index: number, j: number) => expect(Math.abs(g[index] - w.values[j]) / scale, `${key}[${index}]`).toBeLessThan(1e-3));
  }
}

for (const target of TEST_TARGETS)
  describe(`${target.label}: ShuffleNet V2 vs torchvision`, () => {
    for (const width of ['x0_5', 'x1_0', 'x1_5', 'x2_0'] as Width[]) {
      it(`${width}: logits in train mode, and in eval mode (folded batch norm) after calibration, within 1e-4`, async () => {
        const m = await model(target, width);
        m.train();
        expectClose(await noGrad(() => m.forward(input())).data(), fixtures.widths[width].logits_train, 1e-4, 'train logits');
        calibrate(m);
        m.eval();
        expectClose(await noGrad(() => m.forward(input())).data(), fixtures.widths[width].logits_eval, 1e-4, 'eval logits');
      });
    }

    for (const width of ['x0_5', 'x1_0'] as Width[]) {
      it(`${width}: every parameter's gradient after one backward in train mode, within 1e-3 relative`, async () => {
        const m = await model(target, width);
        m.train();
        backward(crossEntropy(m.forward(input()), intTensor(labels)));
        await expectGradients(m, fixtures.widths[width].grads);
        const sd = await stateDict(m);
        for (const [key, values] of Object.entries(fixtures.widths[width].running_after))
          expectClose(sd.get(key)!.data as Float32Array, values as number[], 1e-5, key);
        expect(Number((sd.get('conv1.1.num_batches_tracked')!.data as BigInt64Array)[0])).toBe(1);
      });
    }

    it(`x0_5 with batch-norm shifts near 0 (${Math.round(100 * halfOff.relu_off_fraction)}% of the ReLUs off): train logits within 1e-4, every gradient within 1e-3`, async () => {
      expect(halfOff.relu_off_fraction).toBeGreaterThan(0.4);
      const m = await model(target, 'x0_5', HALF_OFF);
      m.train();
      const logits = m.forward(input(halfOff.input_key));
      expectClose(await logits.data(), halfOff.logits_train, 1e-4, 'train logits');
      backward(crossEntropy(logits, intTensor(labels)));
      await expectGradients(m, halfOff.grads);
    });

    it('x0_5 from a legacy-format .pth without num_batches_tracked, like the official ImageNet files', async () => {
      setBackend(await targetBackend(target));
      const m = new ShuffleNetV2('x0_5', classes);
      const report = loadStateDict(m, await readCheckpoint(readFileSync(new URL('x0_5.legacy.pth', fixtureDir)), 'x0_5.legacy.pth'));
      expect(report.filled.length).toBe(56);
      m.eval();
      expectClose(await noGrad(() => m.forward(input())).data(), fixtures.widths.x0_5.logits_eval, 1e-4, 'eval logits');
    });
  });

// What torchvision's load_state_dict(strict=True) needs of our files: its entries, names, dtypes and
// shapes in its order; and the weights back unchanged (the logits of a reloaded model). The bytes of
// the format are checked against torch.save in checkpoint.test.ts; `make_model_fixtures.py --full`
// also loads our files in torchvision itself.
describe("our .pth of every width, in torchvision's layout", () => {
  for (const width of ['x0_5', 'x1_0', 'x1_5', 'x2_0'] as Width[]) {
    it(`${width}: torchvision's state_dict entries, and the same eval logits when read back`, async () => {
      const m = await model(TEST_TARGETS[0], width);
      calibrate(m);
      const sd = await readPth(writePth(await stateDict(m)), `${width}.pth`);
      expect([...sd].map(([key, t]) => [key, t.dtype, t.shape])).toEqual(fixtures.widths[width].state_entries);
      const back = new ShuffleNetV2(width, classes);
      loadStateDict(back, sd);
      back.eval();
      expectClose(await noGrad(() => back.forward(input())).data(), fixtures.widths[width].logits_eval, 1e-4, 'eval logits of the reloaded model');
    });
  }
});
