// A trained ShuffleNet V2 in the browser: the checkpoint (.pth or .safetensors) fetched from a URL,
// read, loaded strictly into a model of the given width and class count, in evaluation mode.
// Call initBackend() first.

import { readCheckpoint } from '../model/checkpoint/index.js';
import { ShuffleNetV2, type Width } from '../model/shufflenet.js';
import { loadStateDict } from '../model/state.js';

export async function loadModel(weightsUrl: string, width: Width, numClasses: number): Promise<ShuffleNetV2> {
  const response = await fetch(weightsUrl);
  if (!response.ok) throw new Error(`cannot fetch the weights ${weightsUrl}: HTTP ${response.status} ${response.statusText}`);
  const state = await readCheckpoint(new Uint8Array(await response.arrayBuffer()), weightsUrl);
  const model = new ShuffleNetV2(width, numClasses);
  loadStateDict(model, state, { source: weightsUrl });
  return model.eval();
}
