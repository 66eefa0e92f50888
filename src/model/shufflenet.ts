// ShuffleNet V2 exactly as torchvision 0.14 builds it (same modules, same state_dict names), in four
// widths. The channel split is a pair of views and concat + channel_shuffle(groups=2) is one fused
// copy (torchvision's shuffle order: channel c of the first half goes to 2c, of the second to 2c + 1).

import { mean } from '../autograd/ops/reduce.js';
import { empty } from '../autograd/ops/creation.js';
import { chunk, concatShuffle, shuffledHalves } from '../autograd/ops/shape.js';
import type { Tensor } from '../autograd/tensor.js';
import { BatchNorm2d, Conv2d, Linear, MaxPool2d, Module, type Random, ReLU, Sequential } from './module.js';

export const WIDTHS = {
  x0_5: [24, 48, 96, 192, 1024],
  x1_0: [24, 116, 232, 464, 1024],
  x1_5: [24, 176, 352, 704, 1024],
  x2_0: [24, 244, 488, 976, 2048],
} as const;

export type Width = keyof typeof WIDTHS;
export const STAGE_REPEATS = [4, 8, 4];

export function isWidth(name: string): name is Width {
  return name in WIDTHS;
}

export class InvertedResidual extends Module {
  readonly branch1: Sequential;
  readonly branch2: Sequential;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly stride: number,
    random: Random,
  ) {
    super();
    const features = outChannels / 2;
    const depthwise = (c: number) => new Conv2d(c, c, 3, stride, 1, c, random);
    this.branch1 = this.child(
      'branch1',
      stride > 1
        ? new Sequential(
            depthwise(inChannels),
            new BatchNorm2d(inChannels),
            new Conv2d(inChannels, features, 1, 1, 0, 1, random),
            new BatchNorm2d(features),
            new ReLU(),
          )
        : new Sequential(),
    );
    this.branch2 = this.child(
      'branch2',
      new Sequential(
        new Conv2d(stride > 1 ? inChannels : features, features, 1, 1, 0, 1, random),
        new BatchNorm2d(features),
        new ReLU(),
        depthwise(features),
        new BatchNorm2d(features),
        new Conv2d(features, features, 1, 1, 0, 1, random),
        new BatchNorm2d(features),
        new ReLU(),
      ),
    );
  }

  /** The branches' last layers write straight into their places in the shuffled output. */
  forward(x: Tensor): Tensor {
    const [N, , H, W] = x.shape;
    const size = (n: number) => Math.floor((n + 2 - 3) / this.stride) + 1;
    const out = empty([N, this.outChannels, size(H), size(W)], 'float32', x.backend);
    const [even, odd] = shuffledHalves(out);
    if (this.stride === 1) {
      const [x1, x2] = chunk(x, 2, 1);
      return concatShuffle(x1, this.branch2.forward(x2, odd), out);
    }
    return concatShuffle(this.branch1.forward(x, even), this.branch2.forward(x, odd), out);
  }
}

export class ShuffleNetV2 extends Module {
  readonly conv1: Sequential;
  readonly maxpool: MaxPool2d;
  readonly stages: Sequential[];
  readonly conv5: Sequential;
  readonly fc: Linear;

  constructor(
    readonly width: Width,
    readonly numClasses: number,
    random: Random = Math.random,
  ) {
    super();
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`ShuffleNetV2: number of classes must be a positive integer, got ${numClasses}`);
    const channels = WIDTHS[width];
    this.conv1 = this.child('conv1', new Sequential(new Conv2d(3, channels[0], 3, 2, 1, 1, random), new BatchNorm2d(channels[0]), new ReLU()));
    this.maxpool = this.child('maxpool', new MaxPool2d({ kernel: 3, stride: 2, padding: 1 }));
    let input: number = channels[0];
    this.stages = STAGE_REPEATS.map((repeats, i) => {
      const output = channels[i + 1];
      const units = [new InvertedResidual(input, output, 2, random)];
      for (let r = 1; r < repeats; r++) units.push(new InvertedResidual(output, output, 1, random));
      input = output;
      return this.child(`stage${i + 2}`, new Sequential(...units));
    });
    this.conv5 = this.child('conv5', new Sequential(new Conv2d(input, channels[4], 1, 1, 0, 1, random), new BatchNorm2d(channels[4]), new ReLU()));
    this.fc = this.child('fc', new Linear(channels[4], numClasses, random));
  }

  /** The last convolutional feature maps (conv5's output, [N, C, H, W]): what Grad-CAM looks at. */
  features(x: Tensor): Tensor {
    let y = this.maxpool.forward(this.conv1.forward(x));
    for (const stage of this.stages) y = stage.forward(y);
    return this.conv5.forward(y);
  }

  /** Global average pooling and the classifier on feature maps. */
  head(features: Tensor): Tensor {
    return this.fc.forward(mean(features, [2, 3]));
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== 3) throw new Error(`ShuffleNetV2: expected input [batch, 3, height, width], got [${x.shape}]`);
    return this.head(this.features(x));
  }

  /** torchvision's freeze_layers: every parameter outside fc stops requiring gradients. */
  freezeBackbone(): void {
    for (const [name, p] of this.namedParameters()) if (!name.startsWith('fc.')) p.requiresGrad = false;
  }
}
