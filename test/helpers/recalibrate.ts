// Recomputes a checkpoint's batch-norm statistics on a batch of images (one training-mode pass with
// momentum 1, on the CPU reference) and writes it back. A tiny test run starts from random weights
// and updates its running statistics only a few times, so its outputs hardly depend on the image;
// with statistics that fit the activations they do, and comparing probabilities means something.

import { readFileSync, writeFileSync } from 'node:fs';
import { CpuBackend } from '../../src/backends/cpu.js';
import { setBackend } from '../../src/autograd/default_backend.js';
import { tensor } from '../../src/autograd/ops/creation.js';
import { noGrad } from '../../src/autograd/tape.js';
import { decodeImage } from '../../src/data/decode.js';
import { evalTransform } from '../../src/data/transforms.js';
import { readCheckpoint, writePth } from '../../src/model/checkpoint/index.js';
import { BatchNorm2d } from '../../src/model/module.js';
import { ShuffleNetV2, type Width } from '../../src/model/shufflenet.js';
import { loadStateDict, stateDict } from '../../src/model/state.js';

export async function recalibrateBatchNorm(weights: string, width: Width, numClasses: number, imgSize: number, images: string[]): Promise<void> {
  setBackend(new CpuBackend());
  const model = new ShuffleNetV2(width, numClasses);
  loadStateDict(model, await readCheckpoint(readFileSync(weights), weights));
  const batch = new Float32Array(images.length * 3 * imgSize * imgSize);
  images.forEach((file, i) => batch.set(evalTransform(decodeImage(readFileSync(file), file), imgSize), i * 3 * imgSize * imgSize));
  for (const m of model.modules()) if (m instanceof BatchNorm2d) m.momentum = 1;
  model.train();
  noGrad(() => model.forward(tensor(batch, [images.length, 3, imgSize, imgSize])).dispose());
  writeFileSync(weights, writePth(await stateDict(model.eval())));
}
