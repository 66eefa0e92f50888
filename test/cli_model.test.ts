// The model commands as a user runs them: `info --json` (the seed's parameter and FLOP counts) and
// `predict --json` (PyTorch's probabilities on a torchvision-format checkpoint), and their errors.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { TEST_ADAPTERS } from './gpu.js';

const run = promisify(execFile);
const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const FIXTURES = new URL('./fixtures/model/', import.meta.url).pathname;
const DATASETS = new URL('../../shared/datasets/', import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('node', [CLI, ...args], { maxBuffer: 1 << 24 });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

describe('info --json', () => {
  const expected: [string, number, number, number, number][] = [
    ['x0_5', 2, 343842, 43550112, 2050],
    ['x1_0', 2, 1255654, 151686840, 2050],
    ['x1_5', 2, 2480674, 305807520, 2050],
    ['x2_0', 2, 5349094, 596185528, 4098],
    ['x0_5', 1000, 1366792, 44572064, 1025000],
  ];
  for (const [model, classes, params, flops, trainable] of expected) {
    it(`${model}, ${classes} classes: ${params} parameters, ${flops} FLOPs`, async () => {
      const { stdout, code } = await cli('info', '--model', model, '--num-classes', String(classes), '--freeze_layers', 'true', '--json');
      expect(code).toBe(0);
      const info = JSON.parse(stdout);
      expect(info).toMatchObject({ model, num_classes: classes, 'total parameters': params, 'train parameters': trainable, flops });
    });
  }
  it('counts every parameter as trainable with --freeze_layers false', async () => {
    const info = JSON.parse((await cli('info', '--model', 'x0_5', '--freeze_layers', 'false', '--json')).stdout);
    expect(info['train parameters']).toBe(343842);
    expect(info.macs).toBe(39454496);
  });
});

describe('predict --json', () => {
  const fixtures = JSON.parse(readFileSync(join(FIXTURES, 'model.json'), 'utf8'));
  const weights = join(FIXTURES, 'x0_5.legacy.pth');

  it.each(TEST_ADAPTERS)("gives PyTorch's probabilities on %s: 1e-4 without resizing, 1e-3 with", async (adapter) => {
    const files = fixtures.predictions.map((p: { file: string }) => (p.file === 'synthetic256.png' ? join(FIXTURES, p.file) : join(DATASETS, p.file)));
    const { stdout, stderr, code } = await cli(
      'predict',
      '--adapter',
      adapter,
      '--model',
      'x0_5',
      '--num-classes',
      '3',
      '--weights',
      weights,
      '--json',
      ...files,
    );
    expect(code, stderr).toBe(0);
    const results = JSON.parse(stdout);
    expect(results.map((r: { file: string }) => r.file)).toEqual(files);
    fixtures.predictions.forEach((want: { file: string; probabilities: number[] }, i: number) => {
      const tolerance = want.file === 'synthetic256.png' ? 1e-4 : 1e-3;
      want.probabilities.forEach((p, k) => expect(Math.abs(results[i].probabilities[k] - p), `${want.file} class ${k}`).toBeLessThan(tolerance));
      expect(results[i].index).toBe(want.probabilities.indexOf(Math.max(...want.probabilities)));
      expect(results[i].class).toBe(String(results[i].index));
      expect(results[i].logits).toHaveLength(3);
    });
  });

  it('names the file and the problem for a checkpoint of the wrong width', async () => {
    const { stderr, code } = await cli('predict', '--model', 'x1_0', '--num-classes', '3', '--weights', weights, join(FIXTURES, 'synthetic256.png'));
    expect(code).toBe(1);
    expect(stderr).toContain('x0_5.legacy.pth');
    expect(stderr).toContain('shape mismatch for');
    expect(stderr).toContain('looks like ShuffleNet V2 x0_5');
    expect(stderr).not.toMatch(/\.(js|ts):\d+:\d+/); // no stack trace
  });

  it('says when the class count differs', async () => {
    const { stderr, code } = await cli('predict', '--model', 'x0_5', '--num-classes', '2', '--weights', weights, join(FIXTURES, 'synthetic256.png'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/shape mismatch for fc\.weight: the checkpoint has \[3, 1024\], the model \[2, 1024\]/);
  });

  it('rejects a file that is not a checkpoint, and a missing one', async () => {
    const notCheckpoint = await cli('predict', '--weights', join(FIXTURES, 'synthetic256.png'), join(FIXTURES, 'synthetic256.png'));
    expect(notCheckpoint.code).toBe(1);
    expect(notCheckpoint.stderr).toMatch(/synthetic256\.png: .*(PNG|not a)/i);
    const missing = await cli('predict', '--weights', '/nonexistent/w.pth', join(FIXTURES, 'synthetic256.png'));
    expect(missing.stderr).toContain('cannot read the weights file /nonexistent/w.pth: no such file');
  });

  it('reports an unreadable image and still classifies the others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'predict-'));
    const broken = join(dir, 'broken.png');
    writeFileSync(broken, 'not an image');
    const { stdout, stderr, code } = await cli('predict', '--num-classes', '3', '--weights', weights, '--json', broken, join(FIXTURES, 'synthetic256.png'));
    expect(code).toBe(1);
    expect(stderr).toContain('broken.png');
    expect(JSON.parse(stdout)).toHaveLength(1);
  });
});
