// The networks behind the guidelines benchmark: weights (allocated once per configuration), the
// forward pass of each block through the engine's autograd ops, and what each configuration costs by
// the ShuffleNet V2 paper's accounting (FLOPs and memory access cost, MAC).
//
// MAC, in float elements, for one batch of n images through the whole stack:
// - a convolution with an h x w output, c1 input and c2 output channels, a k x k kernel and g groups
//   reads its input and writes its output once and reads its weights once (the paper's idealisation:
//   a cache large enough for whole feature maps and weights): n·hw(c1 + c2) + k²·c1·c2/g. With k = 1
//   that is the paper's formula for 1x1 (group) convolutions; the bottleneck's 3x3 is counted alike.
// - fragments (G3) sum the formula over every convolution of the block: the parallel branches each
//   read the shared input again, and their concatenation (a copy in our engine) adds n·hw·c read
//   plus n·hw·c written;
// - element-wise kernels (G4) read each input and write the output once: a separate ReLU 2·n·hw·c, the
//   shortcut add 3·n·hw·c, the fused add + ReLU kernel also 3·n·hw·c, and a ReLU folded into the
//   convolution's store (epilogue) nothing.

import { tensor } from '#engine/autograd/ops/creation';
import { add, fused, relu } from '#engine/autograd/ops/elementwise';
import { conv2d, conv2dFused } from '#engine/autograd/ops/nn';
import { cat } from '#engine/autograd/ops/shape';
import type { Tensor } from '#engine/autograd/tensor';
import { E } from '#engine/kernels/expr';

/** Input size and depth of one benchmark network; every feature map keeps the input's h x w. */
export interface Geometry {
  batch: number;
  size: number;
  repeats: number;
}

/** A network ready to time: its input, the weights it owns, and its forward pass (noGrad applies). */
export interface Net {
  input: Tensor;
  forward: (x: Tensor) => Tensor;
  /** FLOPs (2 per multiply-add) and MAC of one forward pass of one batch. */
  flops: number;
  mac: number;
  dispose: () => void;
}

/** Deterministic uniform values in [-a, a]. */
function uniform(length: number, a: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length }, () => (((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1) * a);
}

/** The weights of one configuration, drawn with variance 1/fan-in so activations stay O(1) through the stack. */
class Weights {
  readonly all: Tensor[] = [];
  private seed = 7;

  conv(cout: number, cin: number, k = 1, groups = 1): Tensor {
    const fanIn = (cin / groups) * k * k;
    const w = tensor(uniform(cout * fanIn, Math.sqrt(3 / fanIn), this.seed++), [cout, cin / groups, k, k]);
    this.all.push(w);
    return w;
  }

  input(g: Geometry, c: number): Tensor {
    const x = tensor(uniform(g.batch * c * g.size * g.size, 1, 12345), [g.batch, c, g.size, g.size]);
    this.all.push(x);
    return x;
  }

  dispose(): void {
    this.all.forEach((t) => t.dispose());
  }
}

const hw = (g: Geometry) => g.size * g.size;
export const convMac = (g: Geometry, c1: number, c2: number, k = 1, groups = 1) => g.batch * hw(g) * (c1 + c2) + (k * k * c1 * c2) / groups;
export const convFlops = (g: Geometry, c1: number, c2: number, k = 1, groups = 1) => (2 * g.batch * hw(g) * k * k * c1 * c2) / groups;

/** `repeats` copies of a block, each with its own weights (made by `layer` once per repeat). */
function stack(g: Geometry, inChannels: number, layer: (w: Weights) => (x: Tensor) => Tensor, blockFlops: number, blockMac: number): Net {
  const w = new Weights();
  const input = w.input(g, inChannels);
  const blocks = Array.from({ length: g.repeats }, () => layer(w));
  return {
    input,
    forward: (x) => blocks.reduce((h, block) => block(h), x),
    flops: g.repeats * blockFlops,
    mac: g.repeats * blockMac,
    dispose: () => w.dispose(),
  };
}

/** G1: 1x1 conv c1 -> c2, then 1x1 conv c2 -> c1 (no activation, as in the paper's test network). */
export function g1Net(g: Geometry, c1: number, c2: number): Net {
  return stack(
    g,
    c1,
    (w) => {
      const [wa, wb] = [w.conv(c2, c1), w.conv(c1, c2)];
      return (x) => conv2d(conv2d(x, wa), wb);
    },
    convFlops(g, c1, c2) + convFlops(g, c2, c1),
    convMac(g, c1, c2) + convMac(g, c2, c1),
  );
}

/** G2: one 1x1 group convolution c -> c with g groups. */
export function g2Net(g: Geometry, c: number, groups: number): Net {
  return stack(
    g,
    c,
    (w) => {
      const wc = w.conv(c, c, 1, groups);
      return (x) => conv2d(x, wc, { groups });
    },
    convFlops(g, c, c, 1, groups),
    convMac(g, c, c, 1, groups),
  );
}

/**
 * G3: `fragments` 1x1 convolutions per block, `series` (one after another, all `width` wide, so the
 * whole network is `width` channels) or parallel (on the same `width`-channel input, each producing
 * width / fragments channels, concatenated back to `width`).
 */
export function g3Net(g: Geometry, fragments: number, series: boolean, width: number): Net {
  if (series) {
    return stack(
      g,
      width,
      (w) => {
        const ws = Array.from({ length: fragments }, () => w.conv(width, width));
        return (x) => ws.reduce((h, wi) => conv2d(h, wi), x);
      },
      fragments * convFlops(g, width, width),
      fragments * convMac(g, width, width),
    );
  }
  const branch = width / fragments;
  const concatMac = fragments > 1 ? 2 * g.batch * hw(g) * width : 0;
  return stack(
    g,
    width,
    (w) => {
      const ws = Array.from({ length: fragments }, () => w.conv(branch, width));
      return fragments === 1
        ? (x) => conv2d(x, ws[0])
        : (x) =>
            cat(
              ws.map((wi) => conv2d(x, wi)),
              1,
            );
    },
    fragments * convFlops(g, width, branch),
    fragments * convMac(g, width, branch) + concatMac,
  );
}

/** How the bottleneck's element-wise work runs. */
export type Bottleneck =
  /** ReLU and shortcut add each as a kernel of its own (either may be left out). */
  | { mode: 'separate'; relu: boolean; shortcut: boolean }
  /** ReLU in the convolutions' epilogues, the shortcut add and last ReLU as one fused kernel. */
  | { mode: 'fused' };

/** Element-wise MAC of one bottleneck (c outer, b = c/4 inner channels). */
function bottleneckElementwiseMac(g: Geometry, c: number, b: number, v: Bottleneck): number {
  const plane = g.batch * hw(g);
  if (v.mode === 'fused') return 3 * plane * c;
  return (v.relu ? 2 * plane * (b + b + c) : 0) + (v.shortcut ? 3 * plane * c : 0);
}

/**
 * G4: ResNet's bottleneck without batch norm: 1x1 c -> c/4, ReLU, 3x3 c/4 -> c/4 (padding 1), ReLU,
 * 1x1 c/4 -> c, + x (shortcut), ReLU.
 */
export function g4Net(g: Geometry, c: number, variant: Bottleneck): Net {
  const b = c / 4;
  const flops = convFlops(g, c, b) + convFlops(g, b, b, 3) + convFlops(g, b, c);
  const mac = convMac(g, c, b) + convMac(g, b, b, 3) + convMac(g, b, c) + bottleneckElementwiseMac(g, c, b, variant);
  const addRelu = E.relu(E.add(E.in(0), E.in(1)));
  return stack(
    g,
    c,
    (w) => {
      const [w1, w2, w3] = [w.conv(b, c), w.conv(b, b, 3), w.conv(c, b)];
      if (variant.mode === 'fused') {
        return (x) => {
          const h = conv2dFused(conv2dFused(x, w1, {}, { relu: true }), w2, { padding: 1 }, { relu: true });
          return fused(addRelu, [conv2d(h, w3), x], [], 'add_relu');
        };
      }
      const act = variant.relu ? relu : (t: Tensor) => t;
      return (x) => {
        const h = conv2d(act(conv2d(act(conv2d(x, w1)), w2, { padding: 1 })), w3);
        return act(variant.shortcut ? add(h, x) : h);
      };
    },
    flops,
    mac,
  );
}
