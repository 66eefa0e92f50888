// The engine in the browser, end to end: a run trained here, `serve` on it, the page in Debian's
// Chromium (WebGPU on SwiftShader) through playwright-core: its probabilities against `predict`'s,
// a broken upload, the server's fixed paths and its loopback-only default; Grad-CAM and its
// upsampling against their definitions on the CPU reference.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { tensor } from '../src/autograd/ops/creation.js';
import { noGrad } from '../src/autograd/tape.js';
import { Rng } from '../src/data/rng.js';
import { ShuffleNetV2 } from '../src/model/shufflenet.js';
import { gradCam, upsampleBilinear } from '../src/web/gradcam.js';
import { type Browser, launchChromium } from './helpers/chromium.js';
import { recalibrateBatchNorm } from './helpers/recalibrate.js';
import { type ServeProcess, startServe } from './helpers/serve_process.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const DATASETS = new URL('../../shared/datasets/', import.meta.url).pathname;
const SCREENSHOT = new URL('../test-artifacts/web/page.png', import.meta.url).pathname;
const run = promisify(execFile);

const ddtiVal = (label: string) =>
  readdirSync(join(DATASETS, 'ddti', 'val', label))
    .sort()
    .map((f) => join(DATASETS, 'ddti', 'val', label, f));

/** Status and body of a GET with the path sent exactly as given (fetch() would resolve '..' away). */
function rawGet(host: string, port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Waits until the page's result names `file` (failing at once if the page could not start), then returns the result's attributes. */
async function resultFor(page: Page, file: string): Promise<{ probabilities: number[]; className: string }> {
  const outcome = await page.waitForFunction(
    (f) => {
      if (document.querySelector<HTMLElement>('[data-testid=prediction]')?.dataset.file === f) return 'done';
      return document.getElementById('status')?.dataset.state === 'error' ? `the page failed: ${document.getElementById('error')?.textContent}` : false;
    },
    file,
    { timeout: 120_000 },
  );
  expect(await outcome.jsonValue()).toBe('done');
  const result = page.getByTestId('prediction');
  return { probabilities: JSON.parse((await result.getAttribute('data-probabilities'))!), className: (await result.getAttribute('data-class'))! };
}

describe('serve and the inference page', () => {
  let dir: string;
  let runDir: string;
  let server: ServeProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'web-'));
    await run('node', [
      CLI,
      'train',
      '--model',
      'x0_5',
      '--img-size',
      '64',
      '--epochs',
      '1',
      '--pretrained',
      'false',
      '--workers',
      '1',
      '--data_train',
      join(DATASETS, 'udtn-sample', 'train'),
      '--data_val',
      join(DATASETS, 'udtn-sample', 'val'),
      '--save_ret',
      join(dir, 'runs'),
    ]);
    runDir = join(dir, 'runs', 'exp1');
    // Statistics that fit the activations, so that the probabilities depend on the image (helpers/recalibrate.ts).
    const train = (label: string) =>
      readdirSync(join(DATASETS, 'udtn-sample', 'train', label))
        .sort()
        .slice(0, 4)
        .map((f) => join(DATASETS, 'udtn-sample', 'train', label, f));
    await recalibrateBatchNorm(join(runDir, 'weights', 'best.pth'), 'x0_5', 2, 64, [...train('0'), ...train('1')]);
    server = await startServe(['--run', runDir, '--port', '0']);
    browser = await launchChromium();
    page = await browser.context.newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('classifies the demo image (JPEG) and an uploaded image (PNG) with the probabilities of `predict` (1e-4)', async () => {
    const config = await (await fetch(new URL('/config.json', server.url))).json();
    expect(config).toMatchObject({ model: 'x0_5', num_classes: 2, class_names: ['0', '1'], img_size: 64 });
    await page.goto(server.url.href);
    const demo = await resultFor(page, config.demo_image.name);

    const image = ddtiVal('1')[0];
    await page.setInputFiles('input[type=file]', image);
    const { probabilities, className } = await resultFor(page, image.split('/').pop()!);
    // The demo image is the run's first validation image.
    const demoFile = join(DATASETS, 'udtn-sample', 'val', '0', config.demo_image.name);
    const { stdout } = await run('node', [
      CLI,
      'predict',
      '--json',
      '--model',
      'x0_5',
      '--num-classes',
      '2',
      '--img-size',
      '64',
      '--weights',
      join(runDir, 'weights', 'best.pth'),
      demoFile,
      image,
    ]);
    const [expectedDemo, expected] = JSON.parse(stdout);
    for (const [got, want] of [
      [demo.probabilities, expectedDemo.probabilities],
      [probabilities, expected.probabilities],
    ]) {
      expect(got).toHaveLength(2);
      got.forEach((p: number, i: number) => expect(Math.abs(p - want[i]), `class ${i}: page ${p}, predict ${want[i]}`).toBeLessThan(1e-4));
    }
    expect(className).toBe(expected.class);
    // The probabilities depend on the image by far more than the tolerance, so equal ones mean equal inputs.
    expect(Math.abs(demo.probabilities[0] - probabilities[0])).toBeGreaterThan(1e-3);
    expect(await page.textContent('#timing')).toMatch(/^\d+(\.\d+)? ms/);
    expect(await page.textContent('#adapter')).toMatch(/swiftshader/i);
    expect(await page.isHidden('[data-testid=error]')).toBe(true);

    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it('shows a message for a file that is not an image, and a later good upload still works', async () => {
    const broken = join(dir, 'broken.png');
    writeFileSync(broken, 'this is text, not a PNG\n');
    await page.setInputFiles('input[type=file]', broken);
    const error = page.getByTestId('error');
    await error.waitFor({ state: 'visible', timeout: 60_000 });
    expect(await error.textContent()).toContain('broken.png');

    const good = ddtiVal('0')[0];
    await page.setInputFiles('input[type=file]', good);
    const { probabilities } = await resultFor(page, good.split('/').pop()!);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(await error.isHidden()).toBe(true);
  });

  it('classifies an image dropped on the page', async () => {
    const image = ddtiVal('0')[1];
    const bytes = [...readFileSync(image)];
    const dataTransfer = await page.evaluateHandle((b) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(b)], 'dropped.png', { type: 'image/png' }));
      return transfer;
    }, bytes);
    await page.dispatchEvent('body', 'drop', { dataTransfer });
    const { probabilities } = await resultFor(page, 'dropped.png');
    expect(probabilities).toHaveLength(2);
  });

  it('serves its own files with their content types, and nothing else: 404 for ../ in any encoding', async () => {
    const { hostname, port } = server.url;
    const expected: [string, RegExp][] = [
      ['/', /^text\/html/],
      ['/style.css', /^text\/css/],
      ['/page.js', /^text\/javascript/],
      ['/engine.js', /^text\/javascript/],
      ['/config.json', /^application\/json/],
      ['/weights', /^application\/octet-stream/],
      ['/demo-image', /^image\/jpeg/],
    ];
    for (const [path, type] of expected) {
      const res = await rawGet(hostname, Number(port), path);
      expect(res.status, path).toBe(200);
      expect(res.type, path).toMatch(type);
    }
    for (const path of [
      '/../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/..%2f..%2fetc%2fpasswd',
      '/%252e%252e/etc/passwd',
      '/../../../../../../etc/passwd',
      '/web/../index.html',
    ]) {
      const res = await rawGet(hostname, Number(port), path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('root:');
    }
  });

  it('answers only requests that name a loopback host (no DNS rebinding)', async () => {
    const port = Number(server.url.port);
    expect((await rawGet('127.0.0.1', port, '/weights', { host: `localhost:${port}` })).status).toBe(200);
    expect((await rawGet('127.0.0.1', port, '/weights', { host: `[::1]:${port}` })).status).toBe(200);
    expect((await rawGet('127.0.0.1', port, '/weights', { host: `attacker.example:${port}` })).status).toBe(403);
  });

  it('toggles the Grad-CAM overlay with its checkbox', async () => {
    expect(await page.isVisible('#heat')).toBe(true);
    await page.uncheck('#show-cam');
    expect(await page.isHidden('#heat')).toBe(true);
    await page.check('#show-cam');
    expect(await page.isVisible('#heat')).toBe(true);
  });

  it('refuses, before serving, weights that do not fit the model, naming the key', async () => {
    await expect(startServe(['--weights', join(runDir, 'weights', 'best.pth'), '--num-classes', '3', '--port', '0'])).rejects.toThrow(
      /shape mismatch for fc\.weight/,
    );
  });

  it('listens on the loopback address only, by default', async () => {
    const port = Number(server.url.port);
    expect((await rawGet('127.0.0.1', port, '/')).status).toBe(200);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (!external) {
      expect(server.url.hostname).toBe('127.0.0.1');
      return;
    }
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: external.address, port }, () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(outcome, `connecting to ${external.address}:${port}`).not.toBe('connected');
  });
});

describe('Grad-CAM', () => {
  it('equals ReLU(sum over channels of mean gradient x feature map), min-max scaled, on the CPU reference', async () => {
    setBackend(new CpuBackend());
    const rng = new Rng(7);
    const model = new ShuffleNetV2('x0_5', 3, () => rng.next());
    const size = 96;
    const input = Float32Array.from({ length: 3 * size * size }, () => rng.next() * 4 - 2);
    model.eval();
    const features = await noGrad(() => model.features(tensor(input, [1, 3, size, size]))).floats();
    const weights = await model.fc.weight.floats();
    const channels = 1024;
    const cells = features.length / channels;
    // The gradient of a logit with respect to the feature maps, through global average pooling, is
    // its fc row divided by H x W at every location.
    const reference = (k: number) =>
      Array.from({ length: cells }, (_, p) => {
        let s = 0;
        for (let c = 0; c < channels; c++) s += (weights[k * channels + c] / cells) * features[c * cells + p];
        return Math.max(0, s);
      });
    let checked = 0;
    for (let k = 0; k < 3; k++) {
      const raw = reference(k);
      const [min, max] = [Math.min(...raw), Math.max(...raw)];
      const cam = await gradCam(model, input, size, k);
      expect([cam.width, cam.height]).toEqual([3, 3]);
      expect(cam.peak).toBeCloseTo(max, 6);
      if (max === min) continue;
      checked++;
      raw.forEach((v, i) => expect(cam.data[i]).toBeCloseTo((v - min) / (max - min), 4));
    }
    expect(checked, 'classes with a non-constant map').toBeGreaterThan(0);
    expect(model.fc.weight.requiresGrad && model.fc.bias.requiresGrad).toBe(true);
    expect(model.fc.weight.grad).toBeNull();
  });

  it('upsamples as torch.nn.functional.interpolate(mode="bilinear", align_corners=False)', () => {
    const out = upsampleBilinear({ width: 2, height: 2, data: Float32Array.of(0, 1, 2, 3), peak: 3 }, 4, 4);
    expect(Array.from(out)).toEqual([0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]);
  });
});
