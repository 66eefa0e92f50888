// The device profile: every tuning choice the kernels make, in one object computed once per device.
// Two profiles exist: 'software' for adapters that run invocations on CPU threads (llvmpipe,
// SwiftShader: an invocation has a fixed cost, workgroup memory is plain memory behind extra copies,
// every barrier is a context switch) and 'gpu' for hardware. The adapter picks one; the environment
// variable SHUFFLENET_PROFILE=gpu|software forces either on any adapter (the tests run both
// everywhere, so the hardware kernels are checked on machines without a GPU).

import { type AdapterDescription, isLlvmpipe, isSoftware, isSwiftShader } from './device.js';

export type ProfileName = 'gpu' | 'software';

export const PROFILE_NAMES: readonly ProfileName[] = ['gpu', 'software'];

export const PROFILE_ENV = 'SHUFFLENET_PROFILE';

/** A tiled matrix product's tile: TM x TN outputs per workgroup, K in steps of TK, RM x RN per invocation. */
export interface MatmulTiling {
  TM: number;
  TN: number;
  TK: number;
  RM: number;
  RN: number;
}

/** Register blocks (rows x columns of C per invocation) of the direct kernel's modes: 'n' (B vec4 along N), 'nk' (A along K too), 'k' (both along K), 'scalar' (no vec4 side). */
export interface DirectBlocks {
  n: [number, number];
  nk: [number, number];
  k: [number, number];
  scalar: [number, number];
}

/** Each software adapter's blocks (measured on ShuffleNet's 1x1 products; see directBlocks). */
export const DIRECT_BLOCKS: Record<'llvmpipe' | 'swiftshader', DirectBlocks> = {
  llvmpipe: { n: [16, 16], nk: [24, 16], k: [16, 16], scalar: [24, 24] },
  swiftshader: { n: [8, 16], nk: [8, 8], k: [8, 8], scalar: [8, 8] },
};

/** How the depthwise forward hands out its runs of outputs: one flat range, or a workgroup per channel (depthwise.ts). */
export type DepthwiseTiling = 'flat' | 'channel';

export interface DeviceProfile {
  name: ProfileName;
  /** Matrix products: register blocks straight from the operands (matmul_direct.ts) or workgroup-memory tiles (matmul.ts). */
  matmul: 'direct' | 'tiled';
  /** Tiles of the tiled kernel: both sides long, M short (32 or less), N short, both short. */
  tiles: { long: MatmulTiling; shortM: MatmulTiling; shortN: MatmulTiling; short: MatmulTiling };
  /** Products with fewer columns than narrowColumns (7x7 maps and smaller) computed transposed, the weights along the vectorised side (direct kernel). */
  transposeNarrowProducts: boolean;
  narrowColumns: number;
  /**
   * The direct kernel's register blocks, by adapter and mode (DEVELOPERS.md has the measurements):
   * larger blocks on llvmpipe, whose storage loads are a loop over the lanes (fewer loads per
   * multiply-add, more accumulators spilled): 'n' 16x16, 'nk' 24x16, and for the weight gradients
   * 'k' 16x16 and 'scalar' (the 7x7 maps) 24x24, 2.4x and 2.3-3.3x the 4x4 and 4x8 they had; on
   * SwiftShader, where 8x16 spills too much outside 'n', 8x8 (1.15-1.4x 4x4 or 4x8).
   */
  directBlocks: DirectBlocks;
  /**
   * Invocations per workgroup of the one-invocation-per-item kernels (element-wise, gathers, pooling,
   * im2col) and the direct products: 16 on llvmpipe, which hands whole workgroups to its threads, so
   * that a small dispatch spreads over them (an x0_5 inference at batch 8, 112x112: 124 -> 107 ms
   * wall, training unchanged); 64 elsewhere (no difference measured on SwiftShader).
   */
  workgroup: number;
  /** Invocations per workgroup of the optimizer updates. */
  updateWorkgroup: number;
  /** Invocations per workgroup of the workgroup reductions (a power of two). */
  reductionWorkgroup: number;
  /** Inner-loop steps an element-wise invocation takes; with packRows, rows shorter than a workgroup are taken whole and rows share workgroups. */
  elementwisePerInvocation: number;
  packRows: boolean;
  /** Output positions an im2col invocation fills. */
  im2colPerInvocation: number;
  /** Split-K of summed products: the output block one workgroup covers, and how many workgroups a product should fill. */
  splitBlock: [number, number];
  splitTarget: number;
  /** Reductions: elements one workgroup sums before the work is split; sums shorter than serialBelow (or short ones over many outputs) run one invocation per output. */
  reduceElementsPerWorkgroup: number;
  serialBelow: number;
  serialManyOutputs: { outputs: number; length: number };
  /** Workgroups a reduction split into partial sums aims for (reduce, depthwise weight gradient). */
  reductionTarget: number;
  /**
   * Channels of at most this many values are summed by one invocation each (no workgroup memory, no
   * barrier), in workgroups of serialChannelWorkgroup: the depthwise weight gradient's taps.
   */
  serialChannelsUpTo: number;
  serialChannelWorkgroup: number;
  /**
   * The same for batch norm, where that invocation also applies what it computed (y, dx) from its
   * cache instead of an element-wise dispatch after the kernel (longer channels in slices of images,
   * batchnorm_common.ts). Its sums are pairwise (blocks of 8, then a cascade), as accurate as the
   * workgroup tree's. Off in the gpu profile.
   */
  serialBatchNormUpTo: number;
  /**
   * The depthwise forward's tiling: 'channel' (a workgroup per channel, of depthwiseChannelWorkgroup
   * invocations, the taps read once per invocation) where storage loads are dear (software adapters),
   * 'flat' (a flat range of runs, many workgroups) on hardware.
   */
  depthwiseTiling: DepthwiseTiling;
  depthwiseChannelWorkgroup: number;
  /**
   * Convolutions (groups 1, not 1x1) with at most this many input channels computed directly
   * (conv2d_direct.ts) instead of im2col and a matrix product: the 3-channel stem on software
   * adapters; 0 (never) on hardware, where the tiled product of the patches serves.
   */
  directConvChannels: number;
  /**
   * Rows of a multiple of 4 read and written as aligned quads (vec4) by the max pool and the direct
   * convolution (window_common.ts): on llvmpipe a quad costs one loop over the lanes where 4 scalars
   * cost 4; on SwiftShader a per-invocation vec4 is 4 gathers, no cheaper than the scalars (measured
   * slower in the max pool), so there and on hardware (unchanged) off.
   */
  windowQuads: boolean;
}

function powerOfTwoAtMost(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}

/** The profile for a device: `forced` if given, else by the adapter (software or hardware). */
export function deviceProfile(
  adapter: AdapterDescription,
  limits: Pick<GPUSupportedLimits, 'maxComputeInvocationsPerWorkgroup'>,
  forced?: ProfileName,
): DeviceProfile {
  const name: ProfileName = forced ?? (isSoftware(adapter) ? 'software' : 'gpu');
  const most = limits.maxComputeInvocationsPerWorkgroup;
  const software = name === 'software';
  return {
    name,
    matmul: software ? 'direct' : 'tiled',
    tiles: {
      long: { TM: 64, TN: 64, TK: 16, RM: 8, RN: 8 },
      shortM: { TM: 32, TN: 64, TK: 16, RM: 4, RN: 8 },
      shortN: { TM: 64, TN: 32, TK: 16, RM: 8, RN: 4 },
      short: { TM: 32, TN: 32, TK: 16, RM: 4, RN: 4 },
    },
    transposeNarrowProducts: software,
    narrowColumns: 64,
    directBlocks: DIRECT_BLOCKS[isSwiftShader(adapter) ? 'swiftshader' : 'llvmpipe'],
    workgroup: Math.min(software && isLlvmpipe(adapter) ? 16 : 64, most),
    updateWorkgroup: Math.min(256, most),
    reductionWorkgroup: powerOfTwoAtMost(Math.min(software ? 64 : 256, most)),
    elementwisePerInvocation: software ? 16 : 1,
    packRows: software,
    im2colPerInvocation: software ? 8 : 1,
    splitBlock: software ? [8, 16] : [64, 64],
    splitTarget: software ? 256 : 64,
    reduceElementsPerWorkgroup: 4096,
    serialBelow: 256,
    serialManyOutputs: { outputs: 4096, length: 4096 },
    reductionTarget: 256,
    serialChannelsUpTo: software ? 8192 : 0,
    serialChannelWorkgroup: software ? 8 : 64,
    serialBatchNormUpTo: software ? 8192 : 0,
    depthwiseTiling: software ? 'channel' : 'flat',
    depthwiseChannelWorkgroup: Math.min(32, most),
    directConvChannels: software ? 4 : 0,
    windowQuads: software && isLlvmpipe(adapter),
  };
}

/** Reads a profile name; `source` names where it came from, for the error. */
export function parseProfileName(value: string, source: string): ProfileName {
  const name = value.trim().toLowerCase();
  if (name === 'gpu' || name === 'software') return name;
  throw new Error(`${source} must be 'gpu' or 'software', not '${value}'`);
}

/** The profile SHUFFLENET_PROFILE forces, if set (Node; browsers have no environment). */
export function profileFromEnvironment(): ProfileName | undefined {
  const value = typeof process !== 'undefined' ? process.env?.[PROFILE_ENV] : undefined;
  return value ? parseProfileName(value, PROFILE_ENV) : undefined;
}
