// Pre-flight checks: a batch whose tensors cannot fit the device's storage bindings fails before any
// work with one line naming the layer, the limit and the --batch-size / --img-size that fits; batch
// norm with one value per channel is refused up front (batch 1 at 32 px or less) or avoided (a last
// training batch of one image is left out, and the log says so).

import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { setBackend } from '../src/autograd/default_backend.js';
import type { GpuBackend } from '../src/backends/gpu.js';
import { composeBatches } from '../src/data/batches.js';
import { checkBatchFits, checkBatchNormValues, ConfigurationError } from '../src/model/fits.js';
import { ShuffleNetV2 } from '../src/model/shufflenet.js';
import { targetBackend, TEST_TARGETS } from './gpu.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const UDTN = new URL('../../shared/datasets/udtn-sample/', import.meta.url).pathname;

async function cli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [CLI, ...args], { maxBuffer: 1 << 26, env });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

describe('batches of an epoch', () => {
  it('come batchSize at a time; a last batch of one sample is left out only when asked, and never the only batch', () => {
    const order = [4, 0, 3, 1, 2];
    expect(composeBatches(order, 2, false)).toEqual([[4, 0], [3, 1], [2]]);
    expect(composeBatches(order, 2, true)).toEqual([
      [4, 0],
      [3, 1],
    ]);
    expect(composeBatches(order, 3, true)).toEqual([
      [4, 0, 3],
      [1, 2],
    ]);
    expect(composeBatches([7], 4, true)).toEqual([[7]]);
  });
});

describe('batch norm with one value per channel', () => {
  it('batch 1 is refused where the last stage is 1x1 and its norms train, and allowed otherwise', () => {
    expect(() => checkBatchNormValues(1, 32, true)).toThrow(/--batch-size 1 at --img-size 32: .*use --batch-size 2 or more, or --img-size 33 or more/);
    expect(() => checkBatchNormValues(1, 33, true)).not.toThrow();
    expect(() => checkBatchNormValues(2, 32, true)).not.toThrow();
    expect(() => checkBatchNormValues(1, 32, false)).not.toThrow();
  });

  it('train: --batch-size 1 --img-size 32 fails before any work with that message', async () => {
    const { code, stderr } = await cli([
      'train',
      '--batch-size',
      '1',
      '--img-size',
      '32',
      '--pretrained',
      'false',
      '--freeze_layers',
      'false',
      '--data_train',
      join(UDTN, 'train'),
      '--data_val',
      join(UDTN, 'val'),
    ]);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n').at(-1)).toMatch(/^error: --batch-size 1 at --img-size 32: the last stage's maps are 1x1/);
  });

  it('train: 14 images in batches of 13 at 32 px leave the lone last image out (a batch of one would fail), and say so once', async () => {
    const { code, stdout, stderr } = await cli([
      'train',
      '--model',
      'x0_5',
      '--batch-size',
      '13',
      '--img-size',
      '32',
      '--epochs',
      '2',
      '--pretrained',
      'false',
      '--freeze_layers',
      'false',
      '--workers',
      '0',
      '--data_train',
      join(UDTN, 'train'),
      '--data_val',
      join(UDTN, 'val'),
      '--save_ret',
      mkdtempSync(join(tmpdir(), 'fits-')),
    ]);
    expect(code, stderr).toBe(0);
    expect(stdout.split('\n').filter((l) => l.includes('the last training batch would hold one image'))).toHaveLength(1);
  });
});

for (const target of TEST_TARGETS) {
  describe(`${target.label}: a batch that cannot fit the device`, () => {
    it('fails before the epoch naming the layer, the limit and the largest batch that fits', async () => {
      // A device whose buffers hold 8 MiB: conv1's output takes 24 * 112 * 112 * 4 bytes per 224 px image.
      const backend = (await targetBackend(target, { largestBinding: 8 * 2 ** 20 + 256 })) as GpuBackend;
      setBackend(backend);
      const model = new ShuffleNetV2('x1_0', 2);
      const perImage = 24 * 112 * 112 * 4;
      const largest = Math.floor((8 * 2 ** 20) / perImage);
      expect(() => checkBatchFits(backend, model, largest, 224)).not.toThrow();
      expect(() => checkBatchFits(backend, model, largest + 1, 224)).toThrow(ConfigurationError);
      expect(() => checkBatchFits(backend, model, largest + 1, 224)).toThrow(
        new RegExp(
          `^a batch of ${largest + 1} images at --img-size 224 does not fit this adapter: conv1\\.0's output would take .* MiB, more than the 8\\.0 MiB one storage buffer may hold .*; use --batch-size ${largest} or less, or a smaller --img-size$`,
        ),
      );
      // One image too large for the im2col patches or the input: only a smaller image helps.
      expect(() => checkBatchFits(backend, model, 1, 2048)).toThrow(/; use --img-size \d+ or less$/);
    });
  });
}

describe('train at the real limit of llvmpipe', () => {
  it('--batch-size 256 --img-size 224 fails before the epoch, naming conv1.0 and --batch-size 111', async () => {
    const target = TEST_TARGETS.find((t) => t.adapter === 'llvmpipe') ?? TEST_TARGETS[0];
    const { code, stdout, stderr } = await cli(
      [
        'train',
        '--model',
        'x1_0',
        '--batch-size',
        '256',
        '--img-size',
        '224',
        '--pretrained',
        'false',
        '--freeze_layers',
        'false',
        '--workers',
        '0',
        '--data_train',
        join(UDTN, 'train'),
        '--data_val',
        join(UDTN, 'val'),
        '--save_ret',
        mkdtempSync(join(tmpdir(), 'fits-')),
      ],
      { ...process.env, SHUFFLENET_ADAPTER: 'llvmpipe', SHUFFLENET_PROFILE: target.profile },
    );
    expect(code).toBe(1);
    expect(stdout).not.toMatch(/epoch 0/);
    expect(stderr.trim().split('\n').at(-1)).toMatch(
      /^error: a batch of 256 images at --img-size 224 does not fit this adapter: conv1\.0's output would take 294\.0 MiB, more than the 128\.0 MiB .*; use --batch-size 111 or less, or a smaller --img-size$/,
    );
  });
});
