// The npm package as a demo author gets it: `npm pack`, installed into a fresh project, imported by
// name from Node (one training step on the CPU reference, types checked by tsc), bundled for the
// browser by esbuild, which must find no Node built-in and no Dawn in what the browser entry reaches
// (the README's page, run in Chromium on WebGPU/SwiftShader, must give the installed `predict`'s
// probabilities), and its one-file bundle loaded by a plain <script type="module"> in Chromium,
// whose logits must equal the CPU reference's in Node.

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/chromium.js';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const TSC = join(ROOT, 'node_modules/.bin/tsc');

const WEIGHTS = join(ROOT, 'test/fixtures/model/x0_5.legacy.pth');
const IMAGE = new URL('../../shared/datasets/udtn-sample/smalltest/1/2000750.jpg', import.meta.url).pathname;

let project = '';

/** Serves `files` on loopback, opens the page in Chromium and returns what it puts in window.result. */
async function inPage(files: Map<string, { type: string; body: string | Uint8Array }>): Promise<unknown> {
  const server = createServer((req, res) => {
    const file = files.get(req.url ?? '');
    res.writeHead(file ? 200 : 404, { 'content-type': file?.type ?? 'text/plain' });
    res.end(file?.body ?? '');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return await (await page.waitForFunction(() => (window as unknown as { result?: unknown }).result, undefined, { timeout: 120_000 })).jsonValue();
  } finally {
    await browser.close();
    server.close();
  }
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'package-test-'));
  await run('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: ROOT });
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball into ${dir}`);
  project = join(dir, 'demo');
  await run('mkdir', [project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'demo', private: true, type: 'module' }));
  // The dependencies come from npm's cache (the project's own install put them there).
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball)], { cwd: project });
}, 300_000);

describe('the packed package in a new project', () => {
  it('trains one step from Node through the root import', async () => {
    const script = `
      import * as sw from 'shufflenet-webgpu';
      const { initBackend, tensor, intTensor, backward, tidy, nn, optim, models, training, transforms, node } = sw;
      await initBackend('cpu');
      let s = 7;
      const random = () => (s = (s * 16807) % 2147483647) / 2147483647;
      const model = new models.ShuffleNetV2('x0_5', 2, random);
      const opt = new optim.SGD(model.namedParameters().map(([, p]) => p), { lr: 0.1, momentum: 0 });
      const x = tensor(Float32Array.from({ length: 2 * 3 * 32 * 32 }, () => random() * 2 - 1), [2, 3, 32, 32]);
      const y = intTensor([0, 1]);
      const before = Float32Array.from(await model.fc.bias.data());
      const loss = async () => (await tidy(() => nn.crossEntropy(model.forward(x), y)).data())[0];
      model.train();
      const first = await loss();
      tidy(() => { opt.zeroGrad(); backward(nn.crossEntropy(model.forward(x), y)); opt.step(); });
      const grad = Array.from(await model.fc.bias.grad.data());
      const after = Array.from(await model.fc.bias.data());
      console.log(JSON.stringify({
        first, second: await loss(), before: Array.from(before), after, grad,
        namespaces: [nn, optim, models, training, transforms, node, sw.web].map((n) => typeof n),
        hidden: ['copy', 'addInto', 'broadcastTo', 'conv2dFused', 'fused', 'scaleShift', 'concatShuffle', 'CpuBackend', 'GpuBackend', 'softmax'].filter((k) => k in sw),
        split: training.stratifiedSplit([{ label: 0 }, { label: 0 }, { label: 1 }, { label: 1 }], 0.5, 0).val.length,
      }));
    `;
    writeFileSync(join(project, 'step.mjs'), script);
    const { stdout } = await run('node', ['step.mjs'], { cwd: project });
    const r = JSON.parse(stdout);
    expect(Number.isFinite(r.first)).toBe(true);
    // SGD without momentum: the bias moved by -lr * grad, and the loss on the same batch went down.
    r.after.forEach((a: number, i: number) => expect(a).toBeCloseTo(r.before[i] - 0.1 * r.grad[i], 6));
    expect(r.grad.some((g: number) => g !== 0)).toBe(true);
    expect(r.second).toBeLessThan(r.first);
    expect(r.namespaces).toEqual(Array(7).fill('object'));
    expect(r.hidden).toEqual([]);
    expect(r.split).toBe(2);
  });

  it('ships types that tsc accepts for a Node program', async () => {
    writeFileSync(
      join(project, 'typed.ts'),
      `
      import { initBackend, models, nn, optim, type Tensor } from 'shufflenet-webgpu';
      await initBackend('cpu');
      const model: models.ShuffleNetV2 = new models.ShuffleNetV2('x0_5', 2);
      const opt: optim.Optimizer = new optim.Adam(model.namedParameters().map(([, p]) => p), { lr: 1e-3 });
      const layer: nn.Module = model.fc;
      const w: Tensor = model.fc.weight;
      // @ts-expect-error not a width
      new models.ShuffleNetV2('x3_0', 2);
      console.log(opt.lr, layer.training, w.shape);
    `,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          lib: ['ES2022', 'DOM'],
          types: [],
        },
        files: ['typed.ts'],
      }),
    );
    const result = await run(TSC, ['-p', 'tsconfig.json'], { cwd: project }).then(
      () => '',
      (e: { stdout: string }) => e.stdout,
    );
    expect(result).toBe('');
  });

  it('closes the deep paths', async () => {
    writeFileSync(join(project, 'deep.mjs'), "await import('shufflenet-webgpu/dist/cli.js').then(() => console.log('open'), (e) => console.log(e.code));");
    expect((await run('node', ['deep.mjs'], { cwd: project })).stdout.trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it("bundles the README's page for the browser without a Node built-in or Dawn, and the page gives predict's probabilities", async () => {
    writeFileSync(
      join(project, 'page.js'),
      `
      import { initBackend, models, transforms, web } from 'shufflenet-webgpu';
      try {
        await initBackend();
        const model = await web.loadModel('weights.pth', 'x0_5', 3);
        const image = await (await fetch('image.jpg')).blob();
        const input = transforms.evalTransform(await web.decodeImageBlob(image, 'image.jpg'), 224);
        const [prediction] = await models.predictBatch(model, [input], 224);
        window.result = prediction;
      } catch (e) {
        window.result = { error: String(e) };
      }
    `,
    );
    const result = await build({
      absWorkingDir: project,
      entryPoints: ['page.js'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      outfile: 'out.js',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('node_modules/shufflenet-webgpu/dist/browser.js');
    expect(inputs.filter((p) => /^node:|(^|\/)(fs|path|os|worker_threads|child_process)$|node_modules\/(webgpu|pngjs|yargs)\//.test(p))).toEqual([]);
    const code = result.outputFiles[0].text;
    expect(code).not.toMatch(/\brequire\(|from ["']node:|import\(["']node:/);

    const page = (await inPage(
      new Map([
        ['/', { type: 'text/html', body: '<!doctype html><script type="module" src="page.js"></script>' }],
        ['/page.js', { type: 'text/javascript', body: code }],
        ['/weights.pth', { type: 'application/octet-stream', body: readFileSync(WEIGHTS) }],
        ['/image.jpg', { type: 'image/jpeg', body: readFileSync(IMAGE) }],
      ]),
    )) as { index: number; probabilities: number[]; error?: string };
    expect(page.error).toBeUndefined();
    // the installed command line on the same checkpoint and image
    const { stdout } = await run(
      join(project, 'node_modules/.bin/shufflenet-webgpu'),
      ['predict', '--weights', WEIGHTS, '--num-classes', '3', '--json', IMAGE],
      { cwd: project },
    );
    const [cli] = JSON.parse(stdout) as { index: number; probabilities: number[] }[];
    expect(page.index).toBe(cli.index);
    page.probabilities.forEach((p, k) => expect(Math.abs(p - cli.probabilities[k]), `class ${k}`).toBeLessThan(1e-4));
  });

  it('runs its one-file bundle from a plain <script type="module"> in Chromium, as the CPU reference does', async () => {
    // The same seeded model and input in the page (WebGPU) and in Node (CPU reference).
    const program = (engine: string) => `
      const { initBackend, tensor, noGrad, tidy, models } = await import('${engine}');
      const backend = await initBackend(typeof navigator === 'undefined' ? 'cpu' : undefined);
      let s = 11;
      const random = () => (s = (s * 16807) % 2147483647) / 2147483647;
      const model = new models.ShuffleNetV2('x0_5', 3, random).eval();
      const x = tensor(Float32Array.from({ length: 2 * 3 * 48 * 48 }, () => random() * 2 - 1), [2, 3, 48, 48]);
      const logits = Array.from(await tidy(() => noGrad(() => model.forward(x))).data());
      const result = { logits, gpu: Boolean(backend.adapter) };`;
    writeFileSync(join(project, 'cpu.mjs'), `${program('shufflenet-webgpu')}\nconsole.log(JSON.stringify(result));`);
    const cpu = JSON.parse((await run('node', ['cpu.mjs'], { cwd: project })).stdout);
    const html = `<!doctype html><script type="module">try { ${program('./shufflenet-webgpu.js')} window.result = result; } catch (e) { window.result = { error: String(e) }; }</script>`;
    const gpu = (await inPage(
      new Map([
        ['/', { type: 'text/html', body: html }],
        [
          '/shufflenet-webgpu.js',
          { type: 'text/javascript', body: readFileSync(join(project, 'node_modules/shufflenet-webgpu/dist/browser/shufflenet-webgpu.js')) },
        ],
      ]),
    )) as { logits: number[]; gpu: boolean; error?: string };
    expect(gpu.error).toBeUndefined();
    expect(gpu.gpu).toBe(true);
    expect(cpu.gpu).toBe(false);
    expect(gpu.logits).toHaveLength(6);
    gpu.logits.forEach((l, i) => expect(Math.abs(l - cpu.logits[i]), `logit ${i}`).toBeLessThan(1e-4));
  });
});
