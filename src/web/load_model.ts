// A trained ShuffleNet V2 in the browser: a checkpoint (.pth or .safetensors) from a URL or from its
// bytes, read, loaded strictly into a model of the given width and class count, in evaluation mode.
// Call initBackend() first.

import { readCheckpoint } from '../model/checkpoint/index.js';
import { ShuffleNetV2, type Width } from '../model/shufflenet.js';
import { loadStateDict } from '../model/state.js';

export async function modelFromBytes(bytes: Uint8Array, source: string, width: Width, numClasses: number): Promise<ShuffleNetV2> {
  const state = await readCheckpoint(bytes, source);
  const model = new ShuffleNetV2(width, numClasses);
  loadStateDict(model, state, { source });
  return model.eval();
}

export async function loadModel(weightsUrl: string, width: Width, numClasses: number): Promise<ShuffleNetV2> {
  const response = await fetch(weightsUrl);
  if (!response.ok) throw new Error(`cannot fetch the weights ${weightsUrl}: HTTP ${response.status} ${response.statusText}`);
  return modelFromBytes(new Uint8Array(await response.arrayBuffer()), weightsUrl, width, numClasses);
}
