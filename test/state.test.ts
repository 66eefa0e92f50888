// Loading a state_dict: strict keys and shapes, clear messages, the ImageNet-classifier exception.

import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { ShuffleNetV2 } from '../src/model/shufflenet.js';
import { loadStateDict, stateDict } from '../src/model/state.js';

setBackend(new CpuBackend());

describe('loadStateDict', () => {
  it('round-trips a model (parameters, buffers, num_batches_tracked)', async () => {
    const a = new ShuffleNetV2('x0_5', 2);
    const sd = await stateDict(a);
    (sd.get('conv1.1.num_batches_tracked')!.data as BigInt64Array)[0] = 7n;
    const b = new ShuffleNetV2('x0_5', 2);
    loadStateDict(b, sd);
    const back = await stateDict(b);
    expect([...back.keys()]).toEqual([...sd.keys()]);
    expect(back.get('stage3.2.branch2.3.weight')!.data).toEqual(sd.get('stage3.2.branch2.3.weight')!.data);
    expect(back.get('conv1.1.num_batches_tracked')!.data).toEqual(BigInt64Array.of(7n));
  });

  it('names missing and unexpected keys', async () => {
    const sd = await stateDict(new ShuffleNetV2('x0_5', 2));
    sd.delete('conv1.0.weight');
    sd.set('head.weight', sd.get('fc.weight')!);
    expect(() => loadStateDict(new ShuffleNetV2('x0_5', 2), sd, { source: 'w.pth' })).toThrow(
      /^w\.pth: .*missing key: conv1\.0\.weight; unexpected key: head\.weight/,
    );
  });

  it('names the key, both shapes and the width the checkpoint was made for', async () => {
    const sd = await stateDict(new ShuffleNetV2('x1_0', 2));
    expect(() => loadStateDict(new ShuffleNetV2('x0_5', 2), sd)).toThrow(
      'shape mismatch for stage2.0.branch1.2.weight: the checkpoint has [58, 24, 1, 1], the model [24, 24, 1, 1] (the checkpoint looks like ShuffleNet V2 x1_0)',
    );
  });

  it('keeps a fresh classifier for ImageNet weights when asked, and says so', async () => {
    const imagenet = await stateDict(new ShuffleNetV2('x0_5', 1000));
    const model = new ShuffleNetV2('x0_5', 2);
    const freshFc = await model.fc.weight.data();
    const report = loadStateDict(model, imagenet, { allowNewClassifier: true });
    expect(report.freshClassifier).toEqual({ checkpointClasses: 1000, modelClasses: 2 });
    expect(await model.fc.weight.data()).toEqual(freshFc);
    expect(await model.conv5.layers[0].parameters.get('weight')!.data()).toEqual(imagenet.get('conv5.0.weight')!.data);
    expect(() => loadStateDict(new ShuffleNetV2('x0_5', 2), imagenet)).toThrow(/fc\.weight: the checkpoint has \[1000, 1024\]/);
  });
});
