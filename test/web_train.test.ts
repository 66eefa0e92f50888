// Training in the browser, end to end: `serve` without a model, the page's Train view in Debian's
// Chromium (WebGPU on SwiftShader) training in its Web Worker on a small DDTI folder, against
// `train` in Node on SwiftShader with the same flags and seed (last.pth per weight, train_log.json);
// the run zip's files; the page responsive while it trains; classification with the new model
// against `predict`; a folder with a broken image and a text file; stopping; the engine bundle's
// trainFromFiles as the README uses it; bad input in the page; a browser without WebGPU; the GPU
// process crashing mid-run (device lost).

import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { readCheckpoint, type StateDict, toFloat32, writePth } from '../src/model/checkpoint/index.js';
import { readZipDirectory, readZipEntry } from '../src/model/checkpoint/zip_read.js';
import { ShuffleNetV2 } from '../src/model/shufflenet.js';
import { type Browser, CHROMIUM, CHROMIUM_FLAGS, launchChromium } from './helpers/chromium.js';
import { deterministicState } from './helpers/deterministic.js';
import { type ServeProcess, startServe } from './helpers/serve_process.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const DDTI = new URL('../../shared/datasets/ddti/', import.meta.url).pathname;
const SCREENSHOT = new URL('../test-artifacts/web/train-view.png', import.meta.url).pathname;
const run = promisify(execFile);

/** train/<class>/ with `perClass` DDTI training images per class, val/<class>/ with `valPerClass` validation images. */
function smallFolder(into: string, perClass: number, valPerClass: number): void {
  for (const [split, count] of [
    ['train', perClass],
    ['val', valPerClass],
  ] as const) {
    for (const label of ['0', '1']) {
      const from = join(DDTI, split, label);
      mkdirSync(join(into, split, label), { recursive: true });
      for (const f of readdirSync(from).sort().slice(0, count)) copyFileSync(join(from, f), join(into, split, label, f));
    }
  }
}

/** The settings, by the CLI's flag names, into the Train view's form. */
async function fillSettings(page: Page, settings: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(settings)) {
    const selector = `form[data-testid=train-form] [name="${name}"]`;
    if (await page.$eval(selector, (e) => e.tagName === 'SELECT')) await page.selectOption(selector, value);
    else await page.fill(selector, value);
  }
}

/** Waits for the Train view's status to reach `state` (failing at once on 'error' unless that is awaited). */
async function waitForState(page: Page, state: string, timeout: number, epoch?: number): Promise<void> {
  const outcome = await page.waitForFunction(
    ([want, wantEpoch]) => {
      const status = document.querySelector<HTMLElement>('[data-testid=train-status]')!;
      if (status.dataset.state === 'error' && want !== 'error') return `error: ${status.textContent}`;
      return status.dataset.state === want && (wantEpoch === null || Number(status.dataset.epoch) >= Number(wantEpoch)) ? 'ok' : false;
    },
    [state, epoch ?? null] as const,
    { timeout, polling: 100 },
  );
  expect(await outcome.jsonValue()).toBe('ok');
}

async function download(page: Page, testId: string): Promise<Uint8Array> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(`[data-testid=${testId}]`)]);
  return readFileSync(await file.path());
}

function maxDifference(a: StateDict, b: StateDict): { key: string; difference: number } {
  expect([...a.keys()]).toEqual([...b.keys()]);
  let worst = { key: '', difference: 0 };
  for (const [key, tensor] of a) {
    const x = toFloat32(tensor);
    const y = toFloat32(b.get(key)!);
    expect(y.length, key).toBe(x.length);
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i] - y[i]);
      if (!(d <= worst.difference) || worst.key === '') worst = { key, difference: d };
    }
  }
  return worst;
}

/** Every number in two JSON values within `tolerance`, everything else equal. */
function expectClose(got: unknown, want: unknown, tolerance: number, path = ''): void {
  if (typeof want === 'number') {
    expect(typeof got, path).toBe('number');
    expect(Math.abs((got as number) - want), `${path}: ${got} vs ${want}`).toBeLessThanOrEqual(tolerance);
  } else if (want && typeof want === 'object') {
    expect(Object.keys(got as object).sort(), path).toEqual(Object.keys(want).sort());
    for (const [k, v] of Object.entries(want)) expectClose((got as Record<string, unknown>)[k], v, tolerance, `${path}.${k}`);
  } else expect(got, path).toEqual(want);
}

describe('the Train view', () => {
  let dir: string;
  let server: ServeProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'web-train-'));
    server = await startServe(['--port', '0']);
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.goto(server.url.href);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('opens on Train when serve has no model', async () => {
    expect(await page.getAttribute('body', 'data-view')).toBe('train');
    expect(await page.getAttribute('[data-testid=train-status]', 'data-state')).toBe('idle');
    expect(await page.isVisible('input[data-testid=train-folder]')).toBe(true);
    expect(await page.isVisible('#no-model')).toBe(false);
  });

  it('trains 2 epochs at 64 px as `train` does in Node (last.pth within 1e-5, train_log.json within 1e-6), stays responsive, then classifies with the new model', async () => {
    const data = join(dir, 'ddti-small');
    smallFolder(data, 8, 4);
    const flags = {
      model: 'x0_5',
      epochs: '2',
      'batch-size': '4',
      'img-size': '64',
      optim: 'SGD',
      lr: '0.01',
      lrf: '0.001',
      seed: '3',
      augment: 'true',
      balanced: 'false',
      freeze_layers: 'false',
    };

    const nodeStarted = performance.now();
    const node = await run(
      'node',
      [
        CLI,
        'train',
        '--pretrained',
        'false',
        '--adapter',
        'swiftshader',
        '--workers',
        '1',
        '--save_ret',
        join(dir, 'runs'),
        '--data_train',
        join(data, 'train'),
        '--data_val',
        join(data, 'val'),
        ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]),
      ],
      { maxBuffer: 1 << 26 },
    );
    const nodeSeconds = (performance.now() - nodeStarted) / 1000;
    const nodeRun = join(dir, 'runs', 'exp1');

    await page.setInputFiles('input[data-testid=train-folder]', data);
    await page.waitForFunction(() => /2 classes/.test(document.querySelector('[data-testid=folder-summary]')?.textContent ?? ''));
    await fillSettings(page, flags);
    const browserStarted = performance.now();
    await page.click('[data-testid=train-start]');
    await waitForState(page, 'running', 10_000);

    // A second start while running: a message, and the run goes on.
    await page.click('[data-testid=train-start]');
    expect(await page.textContent('[data-testid=train-status]')).toMatch(/already under way/);

    // Responsive while training: a key typed into the page is handled within 200 ms of the browser
    // receiving it (a keydown's timeStamp is when the input arrived; the handler runs when the page's
    // main thread gets to it).
    await page.evaluate(() => {
      const field = document.querySelector<HTMLInputElement>('[data-testid=train-form] [name=lr]')!;
      const delays: number[] = ((window as unknown as { inputDelays: number[] }).inputDelays = []);
      field.addEventListener('keydown', (e) => delays.push(performance.now() - e.timeStamp));
    });
    await page.focus('[data-testid=train-form] [name=lr]');
    await page.keyboard.press('End');
    for (let i = 0; i < 5; i++) {
      await page.waitForTimeout(300);
      await page.keyboard.type('0');
    }
    const delays = await page.evaluate(() => (window as unknown as { inputDelays: number[] }).inputDelays);
    console.log(`input delays while training: ${delays.map((d) => d.toFixed(0)).join(', ')} ms`);
    expect(delays).toHaveLength(6);
    expect(Math.max(...delays), `input delays while training: ${delays.map((d) => d.toFixed(0)).join(', ')} ms`).toBeLessThan(200);
    expect(await page.getAttribute('[data-testid=train-status]', 'data-state')).toBe('running');

    await waitForState(page, 'running', 600_000, 0);
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`screenshot of the Train view mid-run: ${SCREENSHOT}`);
    await waitForState(page, 'done', 600_000);
    const browserSeconds = (performance.now() - browserStarted) / 1000;

    const last = await download(page, 'download-last');
    const zip = await download(page, 'download-run');
    const entries = readZipDirectory(zip);
    const names = [...entries.keys()].map((n) => n.replace(/^run\//, '')).sort();
    for (const name of [
      'class_indices.json',
      'train_info.json',
      'train_log.json',
      'confusion_matrix_train.png',
      'confusion_matrix_val.png',
      'curves.png',
      'val_predictions.csv',
      'weights/best.pth',
      'weights/last.pth',
      'weights/resume.safetensors',
    ]) {
      expect(names).toContain(name);
    }
    const entry = async (name: string) => readZipEntry(zip, entries.get(`run/${name}`)!);
    expect(await entry('weights/last.pth')).toEqual(last);

    const worst = maxDifference(
      await readCheckpoint(last, 'browser last.pth'),
      await readCheckpoint(readFileSync(join(nodeRun, 'weights', 'last.pth')), 'node last.pth'),
    );
    console.log(`browser vs Node last.pth: largest difference ${worst.difference} (${worst.key})`);
    expect(worst.difference, worst.key).toBeLessThanOrEqual(1e-5);
    const browserLog = JSON.parse(new TextDecoder().decode(await entry('train_log.json')));
    expectClose(browserLog, JSON.parse(readFileSync(join(nodeRun, 'train_log.json'), 'utf8')), 1e-6);
    expect(JSON.parse(new TextDecoder().decode(await entry('class_indices.json')))).toEqual({ 0: '0', 1: '1' });
    expect(new TextDecoder().decode(await entry('val_predictions.csv')).split('\n')[0]).toBe('file,label,prediction,prob_0,prob_1');

    const epochSeconds = await page.$$eval('[data-testid=metrics] tbody tr', (rows) => rows.map((r) => Number(r.lastElementChild!.textContent)));
    const nodeEpochSeconds = [...node.stdout.matchAll(/^epoch \d+\/\d+: .* \| ([0-9.]+) s$/gm)].map((m) => Number(m[1]));
    console.log(
      `seconds per epoch on SwiftShader: browser ${epochSeconds.join(', ')} (whole run ${browserSeconds.toFixed(1)} s); Node ${nodeEpochSeconds.join(', ')} (whole command ${nodeSeconds.toFixed(1)} s)`,
    );
    expect(epochSeconds).toHaveLength(2);

    // Classify with the model just trained: the page's probabilities against `predict` on its best.pth.
    const best = await download(page, 'download-best');
    writeFileSync(join(dir, 'best.pth'), best);
    await page.click('[data-testid=use-model]');
    expect(await page.getAttribute('body', 'data-view')).toBe('classify');
    const image = join(data, 'val', '1', readdirSync(join(data, 'val', '1')).sort()[0]);
    await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'ready', undefined, { timeout: 120_000 });
    await page.setInputFiles('#file', image);
    const name = image.split('/').pop()!;
    await page.waitForFunction((f) => document.querySelector<HTMLElement>('[data-testid=prediction]')?.dataset.file === f, name, { timeout: 120_000 });
    const probabilities: number[] = JSON.parse((await page.getAttribute('[data-testid=prediction]', 'data-probabilities'))!);
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
      join(dir, 'best.pth'),
      image,
    ]);
    const [expected] = JSON.parse(stdout);
    probabilities.forEach((p, i) =>
      expect(Math.abs(p - expected.probabilities[i]), `class ${i}: page ${p}, predict ${expected.probabilities[i]}`).toBeLessThan(1e-4),
    );
  }, 1_200_000);

  it('names a broken image and a text file, leaves them out, and completes the run', async () => {
    const data = join(dir, 'with-bad-files');
    smallFolder(data, 3, 2);
    writeFileSync(join(data, 'train', '0', 'broken.png'), 'this is text, not a PNG\n');
    writeFileSync(join(data, 'train', '1', 'notes.txt'), 'a note left in a class folder\n');
    await page.click('[data-testid=tab-train]');
    await page.setInputFiles('input[data-testid=train-folder]', data);
    await page.waitForFunction(() => /notes\.txt/.test(document.querySelector('[data-testid=left-out]')?.textContent ?? ''));
    await fillSettings(page, { epochs: '1', 'img-size': '32', 'batch-size': '4', freeze_layers: 'true' });
    await page.click('[data-testid=train-start]');
    await waitForState(page, 'done', 600_000);
    const log = (await page.textContent('[data-testid=train-log]'))!;
    expect(log).toMatch(/broken\.png.*left out/);
    expect(log).toMatch(/notes\.txt/);
    const info = JSON.parse(
      new TextDecoder().decode(
        await (async () => {
          const zip = await download(page, 'download-run');
          return readZipEntry(zip, readZipDirectory(zip).get('run/train_info.json')!);
        })(),
      ),
    );
    expect(info.dataset.train.total).toBe(6);
    expect(info.dataset['skipped files'].map((f: { file: string }) => f.file)).toEqual(['train/0/broken.png']);
  }, 600_000);

  it('starts from a chosen weights file with another classifier (as ImageNet weights), as `train --weights` does', async () => {
    const data = join(dir, 'from-weights');
    smallFolder(data, 3, 2);
    setBackend(new CpuBackend());
    const weights = join(dir, 'imagenet-like.pth');
    writeFileSync(weights, writePth(deterministicState(new ShuffleNetV2('x0_5', 1000))));
    const flags = { epochs: '1', 'img-size': '32', 'batch-size': '4', freeze_layers: 'true', seed: '1' };
    await run('node', [
      CLI,
      'train',
      '--pretrained',
      'false',
      '--weights',
      weights,
      '--adapter',
      'swiftshader',
      '--workers',
      '1',
      '--save_ret',
      join(dir, 'runs-weights'),
      '--data_train',
      join(data, 'train'),
      '--data_val',
      join(data, 'val'),
      ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]),
    ]);
    await page.setInputFiles('input[data-testid=train-folder]', data);
    await fillSettings(page, flags);
    await page.setInputFiles('form[data-testid=train-form] [name=weights]', weights);
    await page.click('[data-testid=train-start]');
    await waitForState(page, 'done', 600_000);
    const log = (await page.textContent('[data-testid=train-log]'))!;
    expect(log).toContain('imagenet-like.pth: its classifier has 1000 classes, the model 2: fc keeps fresh random weights, everything else is loaded');
    expect(log).toContain('loaded weights from imagenet-like.pth');
    const worst = maxDifference(
      await readCheckpoint(await download(page, 'download-last'), 'browser last.pth'),
      await readCheckpoint(readFileSync(join(dir, 'runs-weights', 'exp1', 'weights', 'last.pth')), 'node last.pth'),
    );
    expect(worst.difference, worst.key).toBeLessThanOrEqual(1e-5);
    await page.setInputFiles('form[data-testid=train-form] [name=weights]', []);
  }, 600_000);

  it('stops a run when asked, keeping the last completed epoch downloadable', async () => {
    const data = join(dir, 'to-stop');
    smallFolder(data, 3, 2);
    await page.setInputFiles('input[data-testid=train-folder]', data);
    await fillSettings(page, { epochs: '50', 'img-size': '32', 'batch-size': '2' });
    await page.click('[data-testid=train-start]');
    await waitForState(page, 'running', 600_000, 0);
    await page.click('[data-testid=train-stop]');
    await waitForState(page, 'done', 600_000);
    expect(await page.textContent('[data-testid=train-status]')).toMatch(/^Stopped/);
    const epochs = Number(await page.getAttribute('[data-testid=train-status]', 'data-epoch'));
    expect(epochs).toBeLessThan(49);
    const zip = await download(page, 'download-run');
    const log = JSON.parse(new TextDecoder().decode(await readZipEntry(zip, readZipDirectory(zip).get('run/train_log.json')!)));
    expect(Object.keys(log)).toHaveLength(epochs + 1);
    expect(await download(page, 'download-last')).toEqual(await readZipEntry(zip, readZipDirectory(zip).get('run/weights/last.pth')!));
  }, 600_000);

  it("trains from File objects through the engine bundle's trainFromFiles, as the README shows, into a torchvision-format .pth", async () => {
    // Class folders alone: the trainer splits off a seeded, stratified 0.2 of each class for validation.
    const data = join(dir, 'for-the-api');
    smallFolder(data, 5, 0);
    const files = ['0', '1'].flatMap((label) =>
      readdirSync(join(data, 'train', label)).map((f) => ({ path: `${label}/${f}`, bytes: [...readFileSync(join(data, 'train', label, f))] })),
    );
    // A string, so that the page runs it as written (the engine is the page's own module).
    const result = (await page.evaluate(`(async (files) => {
      const { initBackend, trainFromFiles } = await import('/engine.js');
      await initBackend();
      const folder = files.map(({ path, bytes }) => ({ path, file: new Blob([new Uint8Array(bytes)]) }));
      const run = await trainFromFiles(folder, { settings: { epochs: 1, 'img-size': 32, freeze_layers: false } });
      return { names: [...run.files.keys()].sort(), best: Array.from(run.files.get('weights/best.pth')), info: new TextDecoder().decode(run.files.get('train_info.json')) };
    })(${JSON.stringify(files)})`)) as { names: string[]; best: number[]; info: string };
    expect(result.names).toEqual([
      'class_indices.json',
      'confusion_matrix_train.png',
      'confusion_matrix_val.png',
      'curves.png',
      'train_info.json',
      'train_log.json',
      'val_predictions.csv',
      'weights/best.pth',
      'weights/last.pth',
      'weights/resume.safetensors',
    ]);
    const state = await readCheckpoint(Uint8Array.from(result.best), 'best.pth');
    expect(state.get('fc.weight')?.shape).toEqual([2, 1024]);
    expect(state.size).toBeGreaterThan(300);
    expect(JSON.parse(result.info).dataset).toMatchObject({ train: { total: 8, 0: 4, 1: 4 }, val: { total: 2, 0: 1, 1: 1 } });
  }, 600_000);

  it('says what is wrong with a folder whose train and val classes differ, before any work, and the page keeps working', async () => {
    const data = join(dir, 'mismatch');
    smallFolder(data, 2, 2);
    rmSync(join(data, 'val', '1'), { recursive: true });
    mkdirSync(join(data, 'val', '2'));
    copyFileSync(join(data, 'val', '0', readdirSync(join(data, 'val', '0'))[0]), join(data, 'val', '2', 'x.png'));
    await page.setInputFiles('input[data-testid=train-folder]', data);
    await waitForState(page, 'error', 10_000);
    expect(await page.textContent('[data-testid=train-status]')).toMatch(/train\/ and val\/ have different classes/);
    await page.click('[data-testid=train-start]');
    expect(await page.getAttribute('[data-testid=train-status]', 'data-state')).toBe('error');
    expect(await page.textContent('[data-testid=train-status]')).toMatch(/different classes/);
  });

  // Last of the page's tests: it opens a second tab.
  it('classifies with a weights file chosen in the Classify view when serve has no model', async () => {
    const fresh = await browser.context.newPage();
    try {
      await fresh.goto(server.url.href);
      await fresh.click('[data-testid=tab-classify]');
      expect(await fresh.isVisible('#no-model')).toBe(true);
      const demo = (await (await fetch(new URL('/config.json', server.url))).json()).demo_image.name;
      await fresh.setInputFiles('[data-testid=classify-weights]', join(dir, 'best.pth'));
      await fresh.waitForFunction((f) => document.querySelector<HTMLElement>('[data-testid=prediction]')?.dataset.file === f, demo, { timeout: 120_000 });
      const probabilities: number[] = JSON.parse((await fresh.getAttribute('[data-testid=prediction]', 'data-probabilities'))!);
      expect(probabilities).toHaveLength(2);
      expect(probabilities[0] + probabilities[1]).toBeCloseTo(1, 5);
      expect(await fresh.textContent('#model-weights')).toBe('best.pth');
    } finally {
      await fresh.close();
    }
  });
});

describe('the Train view in a browser without WebGPU', () => {
  it('says that training needs WebGPU, and the page keeps working', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'web-train-nogpu-'));
    const server = await startServe(['--port', '0']);
    const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      args: CHROMIUM_FLAGS.filter((f) => f !== '--enable-unsafe-webgpu'),
    });
    try {
      const page = await context.newPage();
      await page.goto(server.url.href);
      const data = join(dir, 'data');
      smallFolder(data, 2, 1);
      await page.setInputFiles('input[data-testid=train-folder]', data);
      await page.click('[data-testid=train-start]');
      await waitForState(page, 'error', 60_000);
      expect(await page.textContent('[data-testid=train-status]')).toMatch(/Training needs WebGPU/);
      await page.click('[data-testid=tab-classify]');
      expect(await page.getAttribute('body', 'data-view')).toBe('classify');
    } finally {
      await context.close();
      server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Train view when the GPU is lost mid-run', () => {
  it('says the GPU failed, the page keeps working, and the last completed epoch can still be downloaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'web-train-lost-'));
    const server = await startServe(['--port', '0']);
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      await page.goto(server.url.href);
      const data = join(dir, 'data');
      smallFolder(data, 3, 2);
      await page.setInputFiles('input[data-testid=train-folder]', data);
      await fillSettings(page, { epochs: '50', 'img-size': '32', 'batch-size': '2' });
      await page.click('[data-testid=train-start]');
      await waitForState(page, 'running', 600_000, 0);
      // The DevTools protocol crashes Chromium's GPU process: every WebGPU device of the browser is lost.
      await (await browser.context.browser()!.newBrowserCDPSession()).send('Browser.crashGpuProcess');
      await waitForState(page, 'error', 120_000);
      expect(await page.textContent('[data-testid=train-status]')).toMatch(/GPU .*lost|device was lost|GPU failed/);
      expect(await page.textContent('[data-testid=train-status]')).toMatch(/can still be downloaded/);
      const last = await download(page, 'download-last');
      expect((await readCheckpoint(last, 'last.pth')).get('fc.weight')?.shape).toEqual([2, 1024]);
      await page.click('[data-testid=tab-classify]');
      expect(await page.getAttribute('body', 'data-view')).toBe('classify');
    } finally {
      await browser.close();
      server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
