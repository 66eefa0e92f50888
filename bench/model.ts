// Whole-model speed of ShuffleNet V2 (x0_5 and x1_0, batch 8 and 32, 112 and 224, and the web page's
// x0_5 batch 1 at 224): inference (as predictions run it, the logits read back, as the peers' are),
// the full training step (forward, backward of every parameter, SGD update), the frozen-backbone step (its batch norms in training and in evaluation mode), the first
// training step on a fresh device (pipeline creation and shader compilation included), and the peak
// of GPU memory the buffer pool held; for the first configuration, where a training step and an
// inference forward spend their GPU time, per kernel.

import { SGD } from '#engine/autograd/optim';
import { intTensor, tensor } from '#engine/autograd/ops/creation';
import { crossEntropy } from '#engine/autograd/ops/nn';
import { backward, noGrad } from '#engine/autograd/tape';
import { evalBatchNorms } from '#engine/model/module';
import { discardRecordedForward, evaluateLogits } from '#engine/model/predict';
import { ShuffleNetV2, type Width } from '#engine/model/shufflenet';
import type { BenchContext } from './context.js';
import { table } from './report.js';
import { printProfile, profileStep } from './profile.js';
import { time } from './timing.js';

export interface ModelRow {
  model: Width;
  batch: number;
  resolution: number;
  inferenceImgPerS: number;
  trainImgPerS: number;
  frozenImgPerS: number;
  /** The frozen step with the backbone's batch norms in evaluation mode (`--frozen-bn eval`). */
  frozenEvalBnImgPerS: number;
  /** The first full training step on a fresh device, compilation included, milliseconds. */
  firstStepMs: number;
  compileMs: number;
  pipelines: number;
  peakPoolMiB: number;
  dispatchesPerTrainStep: number;
  dispatchesPerInference: number;
  /** Per-kernel GPU time of one training step and of one inference forward (the first configuration only). */
  profile?: Awaited<ReturnType<typeof profileStep>>;
  inferenceProfile?: Awaited<ReturnType<typeof profileStep>>;
}

function randomInput(batch: number, resolution: number, classes: number) {
  let seed = 1;
  const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return {
    x: Float32Array.from({ length: batch * 3 * resolution * resolution }, next),
    y: Int32Array.from({ length: batch }, (_, i) => i % classes),
  };
}

/** Model configurations (width, batch, resolution); `chosen` (from --configs) replaces the defaults. */
export async function modelBench(ctx: BenchContext, chosen?: [Width, number, number][]): Promise<ModelRow[]> {
  const configs: [Width, number, number][] =
    chosen ??
    (ctx.smoke
      ? [['x0_5', 2, 32]]
      : [...(['x0_5', 'x1_0'] as Width[]).flatMap((m) => [112, 224].flatMap((r) => [8, 32].map((b): [Width, number, number] => [m, b, r]))), ['x0_5', 1, 224]]);
  const rows: ModelRow[] = [];
  for (const [width, batch, resolution] of configs) {
    const backend = await ctx.fresh();
    const gpu = backend.gpu;
    const classes = 2;
    const model = new ShuffleNetV2(width, classes);
    const data = randomInput(batch, resolution, classes);
    const input = () => tensor(data.x, [batch, 3, resolution, resolution]);
    const optimizer = new SGD(
      model.namedParameters().map(([, p]) => p),
      { lr: 1e-4, momentum: 0.9, weightDecay: 4e-5 },
    );
    const trainStep = () => {
      model.train();
      optimizer.zeroGrad();
      backward(crossEntropy(model.forward(input()), intTensor(data.y)));
      optimizer.step();
    };
    const first = await time(backend, trainStep, { warmup: 0, iters: 0 });
    const train = await time(backend, trainStep, ctx.timing);
    const before = gpu.dispatches;
    await time(backend, trainStep, { warmup: 0, iters: 0 });
    const dispatches = (gpu.dispatches - before) / 2;
    const inferenceStep = () => {
      model.eval();
      noGrad(() => model.forward(input()));
    };
    // Inference as predictions run it: the forward recorded once and replayed (model/predict.ts).
    const shape = [batch, 3, resolution, resolution];
    const inference = await time(backend, async () => void (await evaluateLogits(model, data.x, shape)), ctx.timing);
    discardRecordedForward(model);
    const beforeInference = gpu.dispatches;
    await time(backend, inferenceStep, { warmup: 0, iters: 0 });
    const dispatchesPerInference = (gpu.dispatches - beforeInference) / 2;
    // Profiled now, while the folded batch norms are cached (the frozen step's training-mode forward changes the running statistics).
    const inferenceProfile = rows.length === 0 ? await profileStep(backend, inferenceStep) : undefined;
    model.freezeBackbone();
    const frozenOptimizer = new SGD([model.fc.weight, model.fc.bias], { lr: 1e-4, momentum: 0.9 });
    // The frozen step with the backbone's batch norms in training mode (PyTorch's default), and with
    // them in evaluation mode (`--frozen-bn eval`; the peers' frozen step is this one).
    const frozenStep = (batchNormsTrain: boolean) => () => {
      model.train();
      if (!batchNormsTrain) evalBatchNorms(model);
      frozenOptimizer.zeroGrad();
      backward(crossEntropy(model.forward(input()), intTensor(data.y)));
      frozenOptimizer.step();
    };
    const frozen = await time(backend, frozenStep(true), ctx.timing);
    const frozenEvalBn = await time(backend, frozenStep(false), ctx.timing);
    let profile: ModelRow['profile'];
    if (rows.length === 0) {
      model.namedParameters().forEach(([, p]) => (p.requiresGrad = true));
      profile = await profileStep(backend, trainStep);
    }
    rows.push({
      model: width,
      batch,
      resolution,
      inferenceImgPerS: (1000 * batch) / inference.medianMs,
      trainImgPerS: (1000 * batch) / train.medianMs,
      frozenImgPerS: (1000 * batch) / frozen.medianMs,
      frozenEvalBnImgPerS: (1000 * batch) / frozenEvalBn.medianMs,
      firstStepMs: first.firstMs,
      compileMs: gpu.compileMs,
      pipelines: gpu.pipelines.size,
      peakPoolMiB: gpu.pool.peakHeldBytes / 2 ** 20,
      dispatchesPerTrainStep: dispatches,
      dispatchesPerInference,
      profile,
      inferenceProfile,
    });
    optimizer.zeroGrad();
    backend.gpu.device.destroy();
  }
  return rows;
}

export function printModel(rows: ModelRow[]): void {
  console.log(
    table(
      [
        'model',
        'batch',
        'res',
        'inference img/s',
        'train img/s',
        'frozen img/s',
        'frozen eval-BN img/s',
        'first step ms',
        'compile ms',
        'pipelines',
        'peak MiB',
        'dispatches/step',
      ],
      rows.map((r) => [
        r.model,
        r.batch,
        r.resolution,
        r.inferenceImgPerS,
        r.trainImgPerS,
        r.frozenImgPerS,
        r.frozenEvalBnImgPerS,
        r.firstStepMs,
        r.compileMs,
        r.pipelines,
        r.peakPoolMiB,
        r.dispatchesPerTrainStep,
      ]),
    ),
  );
  console.log();
  const first = rows[0];
  const config = first && `${first.model}, batch ${first.batch}, ${first.resolution}x${first.resolution}`;
  if (first?.profile) printProfile(`where a training step of ${config} spends its GPU time`, first.profile);
  if (first?.inferenceProfile)
    printProfile(`where an inference forward of ${config} (${first.dispatchesPerInference} dispatches) spends its GPU time`, first.inferenceProfile);
}
