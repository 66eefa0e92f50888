// ShuffleNet V2 against torchvision 0.14, all four widths: eval-mode and train-mode logits, every
// parameter's gradient (x0_5, x1_0), running statistics, the legacy .pth format of the official
// ImageNet files. Fixtures: scripts/fixtures/make_model_fixtures.py.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { setBackend } from '../src/autograd/engine.js';
import { intTensor, tensor } from '../src/autograd/ops/creation.js';
import { crossEntropy } from '../src/autograd/ops/nn.js';
import { backward, noGrad } from '../src/autograd/tape.js';
import { readCheckpoint, writePth } from '../src/model/checkpoint/index.js';
import { BatchNorm2d } from '../src/model/module.js';
import { ShuffleNetV2, type Width } from '../src/model/shufflenet.js';
import { loadStateDict, stateDict } from '../src/model/state.js';
import { type Target, targetBackend, TEST_TARGETS } from './gpu.js';
import { deterministicInput, deterministicState } from './helpers/deterministic.js';

const fixtureDir = new URL('./fixtures/model/', import.meta.url);
const fixtures = JSON.parse(readFileSync(new URL('model.json', fixtureDir), 'utf8'));
const { classes, batch, size, labels } = fixtures;
const inputKey: string = fixtures.input_key;

async function model(width: Width, target: Target): Promise<ShuffleNetV2> {
  setBackend(await targetBackend(target));
  const m = new ShuffleNetV2(width, classes);
  loadStateDict(m, deterministicState(m));
  return m;
}

const input = () => tensor(deterministicInput(inputKey, batch, size), [batch, 3, size, size]);

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

for (const target of TEST_TARGETS) describe(`${target.label}: ShuffleNet V2 vs torchvision`, () => {
  for (const width of ['x0_5', 'x1_0', 'x1_5', 'x2_0'] as Width[]) {
    it(`${width}: logits in train mode, and in eval mode (folded batch norm) after calibration, within 1e-4`, async () => {
      const m = await model(width, target);
      m.train();
      expectClose(await noGrad(() => m.forward(input())).data(), fixtures.widths[width].logits_train, 1e-4, 'train logits');
      calibrate(m);
      m.eval();
      expectClose(await noGrad(() => m.forward(input())).data(), fixtures.widths[width].logits_eval, 1e-4, 'eval logits');
    });
  }

  for (const width of ['x0_5', 'x1_0'] as Width[]) {
    it(`${width}: every parameter's gradient after one backward in train mode, within 1e-3 relative`, async () => {
      const m = await model(width, target);
      m.train();
      backward(crossEntropy(m.forward(input()), intTensor(labels)));
      const want = fixtures.widths[width].grads;
      const params = m.namedParameters();
      expect(params.map(([k]) => k)).toEqual(Object.keys(want));
      // Gradients that are zero in exact arithmetic are rounding noise: judge them on the largest gradient's scale.
      const floor = 1e-3 * Math.max(...Object.values(want).map((w) => (w as { absmax: number }).absmax));
      for (const [key, p] of params) {
        const g = await p.grad!.data();
        const w = want[key];
        const scale = Math.max(w.absmax, floor);
        let sum = 0;
        for (const v of g) sum += v;
        expect(Math.abs(sum - w.sum) / (scale * Math.sqrt(g.length)), `${key} sum`).toBeLessThan(1e-3);
        w.indices.forEach((index: number, j: number) => expect(Math.abs(g[index] - w.values[j]) / scale, `${key}[${index}]`).toBeLessThan(1e-3));
      }
      const sd = await stateDict(m);
      for (const [key, values] of Object.entries(fixtures.widths[width].running_after)) expectClose(sd.get(key)!.data as Float32Array, values as number[], 1e-5, key);
      expect(Number((sd.get('conv1.1.num_batches_tracked')!.data as BigInt64Array)[0])).toBe(1);
    });
  }

  it('x0_5 from a legacy-format .pth without num_batches_tracked, like the official ImageNet files', async () => {
    setBackend(await targetBackend(target));
    const m = new ShuffleNetV2('x0_5', classes);
    const report = loadStateDict(m, await readCheckpoint(readFileSync(new URL('x0_5.legacy.pth', fixtureDir)), 'x0_5.legacy.pth'));
    expect(report.filled.length).toBe(56);
    m.eval();
    expectClose(await noGrad(() => m.forward(input())).data(), fixtures.widths.x0_5.logits_eval, 1e-4, 'eval logits');
  });

  it('our .pth files of all four widths load strictly in torchvision with identical logits (recorded by the fixture script)', () => {
    const verified = JSON.parse(readFileSync(new URL('full_verified.json', fixtureDir), 'utf8'));
    for (const width of ['x0_5', 'x1_0', 'x1_5', 'x2_0']) expect(verified.widths[width]).toEqual({ strict_load: true, max_logit_difference: 0 });
  });

  // Run by `make_model_fixtures.py --full DIR`: torchvision's files of every width in both formats in,
  // our writer's files out (the script then loads those strictly in torchvision).
  const fullDir = process.env.MODEL_FULL_DIR;
  it.runIf(fullDir && existsSync(fullDir))('torchvision files in both formats in, ours out', async () => {
    setBackend(await targetBackend(target));
    for (const width of ['x0_5', 'x1_0', 'x1_5', 'x2_0'] as Width[]) {
      for (const format of ['zip', 'legacy']) {
        const m = new ShuffleNetV2(width, classes);
        loadStateDict(m, await readCheckpoint(readFileSync(join(fullDir!, `${width}.${format}.pth`))));
        m.eval();
        expectClose(await noGrad(() => m.forward(input())).data(), fixtures.widths[width].logits_eval, 1e-4, `${width} ${format}`);
        if (format === 'zip') writeFileSync(join(fullDir!, `${width}.ours.pth`), writePth(await stateDict(m)));
      }
    }
  });
});
