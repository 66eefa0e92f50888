// What the batch-norm kernels (statistics + affine, backward) share: the views they take, how a
// channel's N*H*W values are split over invocations, and the WGSL walk over a channel's positions.
//
// A channel is either one workgroup's (invocation lid takes plane positions lid, lid + WG, ... of
// every image; a workgroup sum combines them) or, where channels are short on a software adapter, one
// invocation's (a plain loop, no workgroup memory and no barrier: there a barrier costs more than
// summing a few thousand values).

import type { Binding, Gpu } from '../gpu/context.js';
import { blockSum } from './workgroup_reduce.js';

export interface ChannelView {
  binding: Binding;
  off: number;
}

/** An NCHW view whose H and W merge: offset, image stride, channel stride, merged plane stride. */
export interface PlaneView {
  binding: Binding;
  off: number;
  n: number;
  c: number;
  p: number;
}

export interface ChannelSplit {
  /** One invocation per channel (else one workgroup per channel). */
  serial: boolean;
  workgroup: number;
}

export function channelSplit(gpu: Gpu, valuesPerChannel: number): ChannelSplit {
  const serial = valuesPerChannel <= gpu.profile.serialChannelsUpTo;
  return { serial, workgroup: serial ? gpu.profile.serialChannelWorkgroup : gpu.profile.reductionWorkgroup };
}

/** Workgroups of a dispatch over C channels. */
export function channelGroups(split: ChannelSplit, C: number): number {
  return split.serial ? Math.ceil(C / split.workgroup) : C;
}

/** The kernel's entry point, with `c` the channel; `body` runs in uniform control flow per workgroup. */
export function channelMain(split: ChannelSplit, body: string): string {
  return /* wgsl */ `@compute @workgroup_size(${split.workgroup})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(global_invocation_id) gid: vec3u) {
  ${split.serial ? 'let c = gid.x;\n  if (c >= P.C) { return; }' : 'let c = wg.x;'}
  ${body}
}`;
}

/**
 * The walk over this invocation's positions of channel c: for each view v in `views` (buffer v,
 * parameters vOff, vN, vC, vP), `vAt` is the element's index inside `body`.
 */
export function channelPositions(split: ChannelSplit, views: string[], body: string): string {
  const [start, step] = split.serial ? ['0u', '1u'] : ['lid', `${split.workgroup}u`];
  return /* wgsl */ `for (var n = 0u; n < P.N; n++) {
    ${views.map((v) => `let ${v}Plane = P.${v}Off + n * P.${v}N + c * P.${v}C;`).join('\n    ')}
    for (var p = ${start}; p < P.HW; p += ${step}) {
      ${views.map((v) => `let ${v}At = ${v}Plane + p * P.${v}P;`).join('\n      ')}
      ${body}
    }
  }`;
}

/** Declarations for channelTotals (workgroup memory and the tree sum), empty when serial. */
export function channelSumDeclarations(split: ChannelSplit, count: number): string {
  return split.serial ? '' : blockSum('workgroupSum', split.workgroup, count, false);
}

/** WGSL `let <name> = array<f32, n>(...)`: the channel's totals of this invocation's `values`, in every invocation. */
export function channelTotals(split: ChannelSplit, name: string, values: string[]): string {
  const own = `array<f32, ${values.length}>(${values.join(', ')})`;
  return split.serial ? `let ${name} = ${own};` : `let ${name} = workgroupSum(lid, ${own});`;
}

/** Whether this invocation writes the channel's numbers (the only one, or the workgroup's first). */
export function channelLeader(split: ChannelSplit): string {
  return split.serial ? 'true' : 'lid == 0u';
}

/** The uniform parameters of view `v`. */
export function planeParams(v: string): string[] {
  return [`${v}Off`, `${v}N`, `${v}C`, `${v}P`];
}

export function planeValues(v: string, view: PlaneView | null): Record<string, number> {
  const p = view ?? { off: 0, n: 0, c: 0, p: 0 };
  return { [`${v}Off`]: p.off, [`${v}N`]: p.n, [`${v}C`]: p.c, [`${v}P`]: p.p };
}
