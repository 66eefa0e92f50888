// Grad-CAM (Selvaraju et al., 2017) on ShuffleNet V2's last convolutional stage: the feature maps
// of conv5 are computed without a graph (evaluation mode, batch norm folded: fast), then used as a
// leaf that requires a gradient; the classifier head runs on it and backward starts at the chosen
// class's logit. Each channel is weighted by the mean of its gradient over H and W, the weighted
// sum over channels goes through a ReLU and is scaled to [0, 1] by its minimum and maximum (as
// pytorch-grad-cam does).

import { tensor } from '../autograd/ops/creation.js';
import { mul, relu } from '../autograd/ops/elementwise.js';
import { mean, sum } from '../autograd/ops/reduce.js';
import { backward, noGrad } from '../autograd/tape.js';
import { tidy } from '../autograd/tensor.js';
import type { ShuffleNetV2 } from '../model/shufflenet.js';

/** A class activation map: height x width values in [0, 1], row-major. */
export interface GradCam {
  width: number;
  height: number;
  data: Float32Array;
  /** The largest value before scaling; 0 when no location raises the class's score (data is then all 0). */
  peak: number;
}

/** Grad-CAM of class `classIndex` for one CHW image of size imgSize x imgSize (already transformed). */
export async function gradCam(model: ShuffleNetV2, input: Float32Array, imgSize: number, classIndex: number): Promise<GradCam> {
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= model.numClasses)
    throw new Error(`gradCam: class ${classIndex} is not one of the model's ${model.numClasses} classes`);
  model.eval();
  // Gradients are wanted for the feature maps only, not for the classifier's parameters.
  const classifier = [model.fc.weight, model.fc.bias];
  const wanted = classifier.map((p) => p.requiresGrad);
  classifier.forEach((p) => (p.requiresGrad = false));
  try {
    const map = tidy(() => {
      // Made without a graph, so the feature maps are a leaf: backward stops there.
      const features = noGrad(() => model.features(tensor(input, [1, 3, imgSize, imgSize])));
      features.requiresGrad = true;
      const oneHot = tensor(
        Float32Array.from({ length: model.numClasses }, (_, k) => (k === classIndex ? 1 : 0)),
        [1, model.numClasses],
      );
      backward(sum(mul(model.head(features), oneHot)));
      const gradient = features.grad!;
      features.grad = null;
      const cam = noGrad(() => relu(sum(mul(features, mean(gradient, [2, 3], true)), [0, 1])));
      gradient.dispose();
      return cam;
    });
    const [height, width] = map.shape;
    const data = await map.floats();
    map.dispose();
    const [min, peak] = [Math.min(...data), Math.max(...data)];
    for (let i = 0; i < data.length; i++) data[i] = peak > min ? (data[i] - min) / (peak - min) : 0;
    return { width, height, data, peak };
  } finally {
    classifier.forEach((p, i) => (p.requiresGrad = wanted[i]));
  }
}

/** Bilinear resampling of a map to width x height, as torch's interpolate(mode='bilinear', align_corners=False). */
export function upsampleBilinear(map: GradCam, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const source = (o: number, scale: number, size: number) => {
    const s = Math.max(0, (o + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(s), size - 1);
    return { i0, i1: Math.min(i0 + 1, size - 1), f: s - i0 };
  };
  for (let y = 0; y < height; y++) {
    const sy = source(y, map.height / height, map.height);
    for (let x = 0; x < width; x++) {
      const sx = source(x, map.width / width, map.width);
      const at = (row: number, col: number) => map.data[row * map.width + col];
      const top = at(sy.i0, sx.i0) * (1 - sx.f) + at(sy.i0, sx.i1) * sx.f;
      const bottom = at(sy.i1, sx.i0) * (1 - sx.f) + at(sy.i1, sx.i1) * sx.f;
      out[y * width + x] = top * (1 - sy.f) + bottom * sy.f;
    }
  }
  return out;
}
