// `info`: parameter counts and FLOPs of a ShuffleNet V2 configuration (no GPU needed).

import { CpuBackend } from '../backends/cpu.js';
import { setBackend } from '../autograd/default_backend.js';
import { type ModelInfo, modelInfo } from '../model/info.js';
import { ShuffleNetV2, type Width } from '../model/shufflenet.js';

export function info(width: Width, numClasses: number, freezeLayers: boolean, imgSize: number): ModelInfo {
  setBackend(new CpuBackend());
  const model = new ShuffleNetV2(width, numClasses);
  if (freezeLayers) model.freezeBackbone();
  return modelInfo(model, imgSize);
}

export function printInfo(i: ModelInfo, imgSize: number): void {
  const n = (v: number) => v.toLocaleString('en-US');
  console.log(`model:             ShuffleNet V2 ${i.model}, ${i.num_classes} classes`);
  console.log(`total parameters:  ${n(i['total parameters'])}`);
  console.log(`train parameters:  ${n(i['train parameters'])}`);
  console.log(`FLOPs (thop 0.1.1 counting, ${imgSize}x${imgSize}): ${n(i.flops)}  (${(i.flops / 1e6).toFixed(1)} M)`);
  console.log(`multiply-accumulates only:                ${n(i.macs)}  (${(i.macs / 1e6).toFixed(1)} M)`);
}
