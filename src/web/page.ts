// The inference page's script (bundled to dist/browser/page.js): reads the server's config.json, opens
// the WebGPU adapter, loads the weights, then classifies the demo image and every image the user
// chooses or drops. The result is written into [data-testid=prediction] (data-probabilities,
// data-class, data-file) last, once everything about it is on screen.

import {
  adapterName,
  decodeImageBlob,
  evalTransform,
  gradCam,
  initBackend,
  isWidth,
  loadModel,
  modelInfo,
  NoAdapterError,
  predictBatch,
  type ShuffleNetV2,
  type Width,
} from './engine.js';
import { drawHeatOverlay, drawNetworkInput, turboGradient } from './render.js';

interface Config {
  model: Width;
  num_classes: number;
  class_names: string[];
  img_size: number;
  weights: { url: string; name: string };
  demo_image: { url: string; name: string };
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function setStatus(text: string, state: 'busy' | 'ready' | 'error'): void {
  $('status').dataset.state = state;
  $('status-text').textContent = text;
}

function showError(title: string, text: string): void {
  $('error-title').textContent = title;
  $('error-text').textContent = text;
  $('error').hidden = false;
}

function clearError(): void {
  $('error').hidden = true;
}

async function fetchConfig(): Promise<Config> {
  const response = await fetch('config.json');
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status} ${response.statusText}`);
  const config = (await response.json()) as Config;
  if (!isWidth(String(config.model))) throw new Error(`config.json: '${config.model}' is not a ShuffleNet V2 width`);
  return config;
}

const compact = (n: number) => new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 2 }).format(n);

function showConfig(config: Config): void {
  $('model-name').textContent = `ShuffleNet V2 ${config.model.replace('x', '').replace('_', '.')}×`;
  $('model-input').textContent = `${config.img_size} × ${config.img_size} RGB`;
  $('model-classes').textContent = `${config.num_classes} (${config.class_names.join(', ')})`;
  $('model-weights').textContent = config.weights.name;
  $('view-caption').textContent = `as the network sees it: resized, centre-cropped to ${config.img_size}×${config.img_size}`;
}

function showModelSize(model: ShuffleNetV2, imgSize: number): void {
  const info = modelInfo(model, imgSize);
  $('model-params').textContent = compact(info['total parameters']);
  $('model-flops').textContent = `${compact(info.flops)} per image`;
}

function showProbabilities(names: string[], probabilities: number[], best: number): void {
  const bars = $('bars');
  bars.replaceChildren(
    ...probabilities.map((p, i) => {
      const item = document.createElement('li');
      item.className = i === best ? 'bar best' : 'bar';
      const name = document.createElement('span');
      name.className = 'bar-name';
      name.textContent = names[i];
      const track = document.createElement('span');
      track.className = 'bar-track';
      const fill = document.createElement('span');
      fill.className = 'bar-fill';
      fill.style.width = `${(p * 100).toFixed(2)}%`;
      track.append(fill);
      const value = document.createElement('span');
      value.className = 'bar-value';
      value.textContent = `${(p * 100).toFixed(1)}%`;
      item.append(name, track, value);
      return item;
    }),
  );
}

async function classify(config: Config, model: ShuffleNetV2, blob: Blob, fileName: string): Promise<void> {
  const size = config.img_size;
  const input = evalTransform(await decodeImageBlob(blob, fileName), size);
  setStatus(`Classifying ${fileName}…`, 'busy');
  const started = performance.now();
  const [prediction] = await predictBatch(model, [input], size);
  const milliseconds = performance.now() - started;
  const cam = await gradCam(model, input, size, prediction.index);

  drawNetworkInput($<HTMLCanvasElement>('view'), input, size);
  drawHeatOverlay($<HTMLCanvasElement>('heat'), cam);
  $('cam-note').hidden = cam.peak > 0;
  $('file-name').textContent = fileName;
  const className = config.class_names[prediction.index];
  $('predicted-class').textContent = className;
  $('predicted-prob').textContent = `${(prediction.probabilities[prediction.index] * 100).toFixed(1)}% probability`;
  $('prediction-file').textContent = fileName;
  showProbabilities(config.class_names, prediction.probabilities, prediction.index);
  $('timing').textContent = `${milliseconds.toFixed(1)} ms (forward pass, ${size}×${size})`;

  const result = $('prediction');
  result.dataset.probabilities = JSON.stringify(prediction.probabilities);
  result.dataset.class = className;
  result.dataset.file = fileName;
  setStatus('Ready', 'ready');
}

/** Runs classifications one after another; a file that fails shows a message and the page carries on. */
function classifier(config: Config, model: ShuffleNetV2): (blob: Blob, fileName: string) => void {
  let queue = Promise.resolve();
  return (blob, fileName) => {
    queue = queue.then(async () => {
      clearError();
      try {
        await classify(config, model, blob, fileName);
      } catch (e) {
        showError(`Could not classify ${fileName}`, `${(e as Error).message}. The previous result stays on screen; choose another image.`);
        setStatus('Ready', 'ready');
      }
    });
  };
}

function acceptImages(submit: (blob: Blob, fileName: string) => void): void {
  const input = $<HTMLInputElement>('file');
  input.disabled = false;
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) submit(file, file.name);
    input.value = '';
  });
  let depth = 0;
  const dragging = (on: boolean) => document.body.classList.toggle('dragging', on);
  document.addEventListener('dragenter', (e) => {
    e.preventDefault();
    depth++;
    dragging(true);
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) dragging(false);
  });
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    dragging(false);
    const file = e.dataTransfer?.files[0];
    if (file) submit(file, file.name);
    else showError('Nothing to classify', 'Drop an image file (PNG, JPEG, BMP or WebP).');
  });
}

async function main(): Promise<void> {
  $('ramp').style.background = turboGradient();
  const showCam = $<HTMLInputElement>('show-cam');
  showCam.addEventListener('change', () => ($('heat').hidden = !showCam.checked));

  // Images chosen or dropped while the page loads wait for the model; any image the user gives before
  // the demo image has arrived replaces the demo image.
  let chosen = false;
  let submit: ((blob: Blob, fileName: string) => void) | null = null;
  const waiting: [Blob, string][] = [];
  acceptImages((blob, fileName) => {
    chosen = true;
    if (submit) submit(blob, fileName);
    else waiting.push([blob, fileName]);
  });

  const config = await fetchConfig();
  showConfig(config);
  setStatus('Opening the WebGPU adapter…', 'busy');
  const backend = await initBackend();
  $('adapter').textContent = adapterName(backend);
  setStatus(`Loading the weights (${config.weights.name})…`, 'busy');
  const model = await loadModel(config.weights.url, config.model, config.num_classes);
  showModelSize(model, config.img_size);

  // The first pass compiles every shader: done once here, so the times shown are the network's own.
  setStatus('Compiling the shaders…', 'busy');
  const size = config.img_size;
  await predictBatch(model, [new Float32Array(3 * size * size)], size);

  const enqueue = classifier(config, model);
  submit = enqueue;
  for (const [blob, fileName] of waiting) enqueue(blob, fileName);
  if (chosen) return;
  const demo = await fetch(config.demo_image.url);
  const demoBlob = demo.ok ? await demo.blob() : null;
  if (chosen) return;
  if (demoBlob) enqueue(demoBlob, config.demo_image.name);
  else setStatus('Ready: choose an image', 'ready');
}

const WEBGPU_HELP = [
  'This page runs the network on WebGPU. Use a recent Chrome, Edge or Safari with hardware acceleration on;',
  'in Chrome on Linux, or in Firefox, enable WebGPU first (chrome://flags/#enable-unsafe-webgpu, or dom.webgpu.enabled in about:config).',
].join(' ');
const SECURE_CONTEXT_HELP = 'WebGPU exists only in secure contexts: open the page as http://localhost:PORT or http://127.0.0.1:PORT (or over HTTPS), not through a network address.';

main().catch((e: Error) => {
  if (e instanceof NoAdapterError) {
    setStatus('No WebGPU', 'error');
    showError('WebGPU is not available', `${window.isSecureContext ? WEBGPU_HELP : SECURE_CONTEXT_HELP}\n\nDetails: ${e.message}`);
  } else {
    setStatus('Error', 'error');
    showError('The page could not start', e.message);
  }
});
