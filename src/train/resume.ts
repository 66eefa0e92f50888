// The resume checkpoint: model state, optimizer buffers and the loop's own state (last completed
// epoch, best epoch, per-epoch history) in one safetensors file, written atomically after every
// epoch. Everything random is derived from the seed and the epoch, so nothing else is needed to
// continue exactly where an uninterrupted run would be. Bytes in and out: the run's sink stores them.

import { tensor } from '../autograd/ops/creation.js';
import type { Optimizer } from '../autograd/optim.js';
import { readSafetensors, type StateDict, toFloat32, writeSafetensors } from '../model/checkpoint/index.js';
import type { Module } from '../model/module.js';
import { loadStateDict, stateDict } from '../model/state.js';

const OPTIMIZER_PREFIX = 'optimizer.';

export async function resumeCheckpoint(model: Module, optimizer: Optimizer, loop: unknown): Promise<Uint8Array> {
  const sd: StateDict = await stateDict(model);
  const state = optimizer.stateDict();
  const steps = state.params.map((p) => p.step);
  for (const [i, p] of state.params.entries()) {
    for (const [name, t] of Object.entries(p.buffers))
      sd.set(`${OPTIMIZER_PREFIX}${i}.${name}`, { dtype: 'float32', shape: [...t.shape], data: Float32Array.from(await t.data()) });
  }
  return writeSafetensors(sd, { loop: JSON.stringify(loop), optimizer: JSON.stringify({ kind: state.kind, steps }) });
}

/** Restores model and optimizer from a resume checkpoint's bytes (`source` names it in messages); returns the loop state saved with them. */
export function restoreResume<T>(bytes: Uint8Array, source: string, model: Module, optimizer: Optimizer): T {
  const { tensors, metadata } = readSafetensors(bytes, source);
  const modelState: StateDict = new Map([...tensors].filter(([k]) => !k.startsWith(OPTIMIZER_PREFIX)));
  loadStateDict(model, modelState, { source });
  const { kind, steps } = JSON.parse(metadata.optimizer) as { kind: string; steps: number[] };
  const params = steps.map((step) => ({ step, buffers: {} as Record<string, ReturnType<typeof tensor>> }));
  for (const [key, t] of tensors) {
    if (!key.startsWith(OPTIMIZER_PREFIX)) continue;
    const [index, name] = key.slice(OPTIMIZER_PREFIX.length).split('.');
    params[Number(index)].buffers[name] = tensor(toFloat32(t), t.shape);
  }
  optimizer.loadStateDict({ kind, params });
  return JSON.parse(metadata.loop) as T;
}
