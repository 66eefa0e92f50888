// Depthwise convolution, weight gradient: dw[c,kh,kw] = sum over n, oh, ow of
// dy[n,c,oh,ow] * x[n,c,oh*s-p+kh,ow*s-p+kw].
//
// Tiling: the reduction over N*OH*OW is split into slices of the batch, partial[slice][c][tap], and a
// second pass adds the slices. Either a workgroup owns one channel and one slice: its invocations
// stride over the output positions of each image, each keeping all KH*KW tap sums in registers, then
// a workgroup sum of the taps (workgroup_reduce.ts); or, where planes are short on a software adapter
// (batchnorm_common.ts's rule: there a barrier costs more than the sums), one invocation owns one
// channel of a slice of images and walks it alone, its tap sums named scalars in
// generated, unrolled code, with no workgroup memory and no barrier; where one invocation can take
// every image of a channel (up to serialChannelsUpTo positions), its sums are dw itself.

import { type Binding, type Gpu, memoKernel } from '../gpu/context.js';
import { CONV_X, CONV_Y, type ConvGeometry } from './conv_common.js';
import { reduce } from './reduce.js';
import { blockSum } from './workgroup_reduce.js';
import { view } from './view.js';
import { unrolled } from './window_common.js';

const SHAPE = ['N', 'C', 'H', 'W', 'OH', 'OW', 'imagesPerSlice', ...CONV_X.params, ...CONV_Y.params];

/** The serial kernel's output: the slices' tap sums, or dw itself, contiguous from an element offset. */
const OUT = view('out', [], ['I'], { unitStride: true });

const kernel = memoKernel('depthwise_grad_weight', (KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, workgroup: number) => {
  const taps = KH * KW;
  return {
    params: SHAPE,
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

${CONV_X.wgsl}${CONV_Y.wgsl}
${blockSum('workgroupSum', workgroup, taps, false)}
@compute @workgroup_size(${workgroup})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wg.x;
  let slice = wg.y;
  let firstImage = slice * P.imagesPerSlice;
  let lastImage = min(firstImage + P.imagesPerSlice, P.N);
  var acc: array<f32, ${taps}>;
  for (var n = firstImage; n < lastImage; n++) {
    for (var o = lid; o < P.OH * P.OW; o += ${workgroup}u) {
      let oh = o / P.OW;
      let ow = o % P.OW;
      let grad = dy[yAt(yBase(n, c, oh), ow)];
      let h0 = i32(oh * ${SH}u) - ${PH};
      let w0 = i32(ow * ${SW}u) - ${PW};
      for (var kh = 0u; kh < ${KH}u; kh++) {
        let h = h0 + i32(kh);
        if (h < 0 || h >= i32(P.H)) { continue; }
        let row = xBase(n, c, u32(h));
        for (var kw = 0u; kw < ${KW}u; kw++) {
          let wx = w0 + i32(kw);
          if (wx < 0 || wx >= i32(P.W)) { continue; }
          acc[kh * ${KW}u + kw] = fma(grad, x[xAt(row, u32(wx))], acc[kh * ${KW}u + kw]);
        }
      }
    }
  }
  let sums = workgroupSum(lid, acc);
  if (lid < ${taps}u) {
    partial[(slice * P.C + c) * ${taps}u + lid] = sums[lid];
  }
}
`,
  };
});

const serialKernel = memoKernel('depthwise_grad_weight_serial', (KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, workgroup: number) => {
  const taps = KH * KW;
  const tap = (kh: number, kw: number) => kh * KW + kw;
  return {
    params: [...SHAPE, 'slices', ...OUT.params],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

${CONV_X.wgsl}${CONV_Y.wgsl}${OUT.wgsl}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var item = gid.x; item < P.slices * P.C; item += groups.x * ${workgroup}u) {
    let c = item % P.C;
    let slice = item / P.C;
    ${unrolled(taps, (t) => `var acc${t} = 0.0;`, '\n    ')}
    for (var n = slice * P.imagesPerSlice; n < min((slice + 1u) * P.imagesPerSlice, P.N); n++) {
    for (var oh = 0u; oh < P.OH; oh++) {
      let h0 = i32(oh * ${SH}u) - ${PH};
      let dyRow = yBase(n, c, oh);
      ${unrolled(
        KH,
        (kh) => `let rowOk${kh} = h0 + ${kh} >= 0 && h0 + ${kh} < i32(P.H);
      let row${kh} = xBase(n, c, u32(clamp(h0 + ${kh}, 0, i32(P.H) - 1)));`,
      )}
      // Each output row's sums first, then into the totals (rounding grows with a row, not the plane).
      ${unrolled(taps, (t) => `var rowSum${t} = 0.0;`)}
      for (var ow = 0u; ow < P.OW; ow++) {
        let grad = dy[yAt(dyRow, ow)];
        let w0 = i32(ow * ${SW}u) - ${PW};
        ${unrolled(
          KW,
          (kw) => `let colOk${kw} = w0 + ${kw} >= 0 && w0 + ${kw} < i32(P.W);
        let col${kw} = u32(clamp(w0 + ${kw}, 0, i32(P.W) - 1));`,
          '\n        ',
        )}
        ${unrolled(
          taps,
          (t) => {
            const [kh, kw] = [Math.floor(t / KW), t % KW];
            return `rowSum${tap(kh, kw)} = fma(grad, select(0.0, x[xAt(row${kh}, col${kw})], rowOk${kh} && colOk${kw}), rowSum${tap(kh, kw)});`;
          },
          '\n        ',
        )}
      }
      ${unrolled(taps, (t) => `acc${t} += rowSum${t};`)}
    }
    }
    let out = outAt(outBase(), (slice * P.C + c) * ${taps}u);
    ${unrolled(taps, (t) => `partial[out + ${t}u] = acc${t};`, '\n    ')}
  }
}
`,
  };
});

/** The geometry's x is the input, its y is dy; dw is contiguous [C, 1, KH, KW] at element offset dwOff of its buffer. */
export function depthwiseGradWeight(gpu: Gpu, g: ConvGeometry, dw: Binding, dwOff: number): void {
  const [dy, x] = [g.y.binding, g.x.binding];
  const variant = [g.kernel[0], g.kernel[1], g.stride[0], g.stride[1], g.padding[0], g.padding[1]] as const;
  const taps = g.kernel[0] * g.kernel[1];
  const plane = g.OH * g.OW;
  const serial = plane <= gpu.profile.serialChannelsUpTo;
  // Serial: as many images per invocation as serialChannelsUpTo positions allow. Else enough slices
  // to keep the device busy, at least a few thousand positions per workgroup.
  const slices = serial
    ? Math.ceil(g.N / Math.floor(gpu.profile.serialChannelsUpTo / plane))
    : Math.max(1, Math.min(g.N, Math.ceil(gpu.profile.reductionTarget / g.C), Math.floor((g.N * plane) / gpu.profile.reduceElementsPerWorkgroup)));
  const imagesPerSlice = Math.ceil(g.N / slices);
  const shape = { N: g.N, C: g.C, H: g.H, W: g.W, OH: g.OH, OW: g.OW, imagesPerSlice, ...CONV_X.values(g.x), ...CONV_Y.values(g.y) };
  // A single slice (serial) is the sum itself.
  if (serial && slices === 1) {
    const perGroup = gpu.profile.serialChannelWorkgroup;
    gpu.run(serialKernel(...variant, perGroup), [dy, x, dw], [gpu.groupsFor(g.C, perGroup)], {
      ...shape,
      slices,
      ...OUT.values({ binding: dw, offset: dwOff, strides: [1] }),
    });
    return;
  }
  const partial = gpu.pool.acquire(slices * g.C * taps * 4);
  const bindings = [dy, x, { buffer: partial }];
  if (serial) {
    const perGroup = gpu.profile.serialChannelWorkgroup;
    gpu.run(serialKernel(...variant, perGroup), bindings, [gpu.groupsFor(slices * g.C, perGroup)], {
      ...shape,
      slices,
      ...OUT.values({ binding: { buffer: partial }, offset: 0, strides: [1] }),
    });
  } else gpu.run(kernel(...variant, gpu.profile.workgroup), bindings, [g.C, slices], shape);
  const weights = g.C * taps;
  reduce(
    gpu,
    [{ k: 'in', i: 0 }],
    [{ binding: { buffer: partial }, offset: 0, strides: [weights, 1] }],
    { binding: dw, offset: dwOff, strides: [0, 1] },
    0,
    [slices, weights],
    [true, false],
  );
  gpu.pool.release(partial);
}
