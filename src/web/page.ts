// The page's script (bundled to dist/browser/page.js): reads the server's config.json, opens the
// WebGPU adapter and, when the server has weights, loads them and classifies the demo image and every
// image the user chooses or drops. Without weights the page opens on the Train view (train_view.ts);
// a model trained there, or a weights file chosen, becomes the model classified with. The result is
// written into [data-testid=prediction] (data-probabilities, data-class, data-file) last, once
// everything about it is on screen.

import {
  adapterName,
  decodeImageBlob,
  evalTransform,
  gradCam,
  guessWidth,
  initBackend,
  isWidth,
  loadModel,
  modelFromBytes,
  modelInfo,
  NoAdapterError,
  predictBatch,
  readCheckpoint,
  type ShuffleNetV2,
  type Width,
} from './engine.js';
import { drawHeatOverlay, drawNetworkInput, turboGradient } from './render.js';
import { initTrainView } from './train_view.js';

/** The model being classified with: its width, classes, input size and weights' name. */
interface Config {
  model: Width;
  num_classes: number;
  class_names: string[];
  img_size: number;
  weights: { url: string; name: string };
}

/** config.json: the served model, or nulls when `serve` runs without one (the page opens on Train). */
interface ServerConfig {
  model: Width | null;
  num_classes: number | null;
  class_names: string[] | null;
  img_size: number | null;
  weights: { url: string; name: string } | null;
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

async function fetchConfig(): Promise<ServerConfig> {
  const response = await fetch('config.json');
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status} ${response.statusText}`);
  const config = (await response.json()) as ServerConfig;
  if (config.weights && !isWidth(String(config.model))) throw new Error(`config.json: '${config.model}' is not a ShuffleNet V2 width`);
  return config;
}

function showView(view: 'train' | 'classify'): void {
  document.body.dataset.view = view;
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

/** The model classified with (null until one is served, trained or chosen). */
let current: { config: Config; model: ShuffleNetV2 } | null = null;
/** The served model while it loads: images chosen meanwhile wait for it. */
let served: Promise<void> | null = null;
/** The user gave an image: the demo image, arriving later, no longer replaces it. */
let userChose = false;
let queue = Promise.resolve();

/** Runs classifications one after another with the current model; a file that fails shows a message and the page carries on. */
function submit(blob: Blob, fileName: string): void {
  queue = queue.then(async () => {
    if (!current && served) await served.catch(() => undefined);
    clearError();
    if (!current) {
      showError('No model yet', 'Train a model in the Train view, or choose a weights file, then choose the image again.');
      return;
    }
    const { config, model } = current;
    try {
      await classify(config, model, blob, fileName);
    } catch (e) {
      showError(`Could not classify ${fileName}`, `${(e as Error).message}. The previous result stays on screen; choose another image.`);
      setStatus('Ready', 'ready');
    }
  });
}

function acceptImages(): void {
  const input = $<HTMLInputElement>('file');
  input.disabled = false;
  const chosen = (file: File) => {
    userChose = true;
    submit(file, file.name);
  };
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) chosen(file);
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
    if (document.body.dataset.view !== 'classify') return;
    const file = e.dataTransfer?.files[0];
    if (file) chosen(file);
    else showError('Nothing to classify', 'Drop an image file (PNG, JPEG, BMP or WebP).');
  });
}

/** Makes `model` the one classified with; then classifies the demo image with it. */
async function useModel(config: Config, model: ShuffleNetV2, demo: ServerConfig['demo_image']): Promise<void> {
  showConfig(config);
  showModelSize(model, config.img_size);
  // The first pass compiles every shader: done once here, so the times shown are the network's own.
  setStatus('Compiling the shaders…', 'busy');
  const size = config.img_size;
  await predictBatch(model, [new Float32Array(3 * size * size)], size);
  current = { config, model };
  $('no-model').hidden = true;
  $<HTMLInputElement>('file').disabled = false;
  if (userChose) return;
  const image = await fetch(demo.url);
  const blob = image.ok ? await image.blob() : null;
  if (userChose) return;
  if (blob) submit(blob, demo.name);
  else setStatus('Ready: choose an image', 'ready');
}

/** A weights file chosen in the Classify view: its width and class count come from the checkpoint itself. */
async function chooseWeights(file: File, demo: ServerConfig['demo_image']): Promise<void> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const state = await readCheckpoint(bytes, file.name);
  const guessed = guessWidth(state);
  const width = guessed && isWidth(guessed) ? guessed : 'x0_5';
  const numClasses = state.get('fc.weight')?.shape[0] ?? 2;
  const model = await modelFromBytes(bytes, file.name, width, numClasses);
  const config: Config = {
    model: width,
    num_classes: numClasses,
    class_names: Array.from({ length: numClasses }, (_, i) => String(i)),
    img_size: 224,
    weights: { url: '', name: file.name },
  };
  await useModel(config, model, demo);
}

async function main(): Promise<void> {
  $('ramp').style.background = turboGradient();
  const showCam = $<HTMLInputElement>('show-cam');
  showCam.addEventListener('change', () => ($('heat').hidden = !showCam.checked));
  for (const tab of document.querySelectorAll<HTMLElement>('.tab')) tab.addEventListener('click', () => showView(tab.dataset.view as 'train' | 'classify'));

  const server = await fetchConfig();
  setStatus('Opening the WebGPU adapter…', 'busy');
  // A model trained or chosen while the adapter is still opening waits for it.
  const backend = initBackend();
  acceptImages();
  initTrainView({
    onState(state) {
      if (state === 'running') setStatus('Training (in a Web Worker)…', 'busy');
      else if (state === 'done' || state === 'error') setStatus('Ready', 'ready');
    },
    async onModel(trained) {
      await backend;
      const model = await modelFromBytes(trained.weights, trained.weightsName, trained.width, trained.classNames.length);
      const config: Config = {
        model: trained.width,
        num_classes: trained.classNames.length,
        class_names: trained.classNames,
        img_size: trained.imgSize,
        weights: { url: '', name: trained.weightsName },
      };
      showView('classify');
      await useModel(config, model, server.demo_image);
    },
  });
  const weightsInput = $<HTMLInputElement>('classify-weights');
  weightsInput.addEventListener('change', () => {
    const file = weightsInput.files?.[0];
    if (file) {
      backend.then(() => chooseWeights(file, server.demo_image)).catch((e: Error) => showError(`Could not use ${file.name}`, e.message));
    }
  });
  if (!server.weights) {
    showView('train');
    $('no-model').hidden = false;
  } else {
    showView('classify');
    const config = server as Config;
    served = backend.then(async () => {
      setStatus(`Loading the weights (${config.weights.name})…`, 'busy');
      await useModel(config, await loadModel(config.weights.url, config.model, config.num_classes), server.demo_image);
    });
  }
  $('adapter').textContent = adapterName(await backend);
  if (served) await served;
  else setStatus('Ready: train a model, or choose weights', 'ready');
}

const WEBGPU_HELP = [
  'This page runs the network on WebGPU. Use a recent Chrome, Edge or Safari with hardware acceleration on;',
  'in Chrome on Linux, or in Firefox, enable WebGPU first (chrome://flags/#enable-unsafe-webgpu, or dom.webgpu.enabled in about:config).',
].join(' ');
const SECURE_CONTEXT_HELP =
  'WebGPU exists only in secure contexts: open the page as http://localhost:PORT or http://127.0.0.1:PORT (or over HTTPS), not through a network address.';

main().catch((e: Error) => {
  if (e instanceof NoAdapterError) {
    setStatus('No WebGPU', 'error');
    showError('WebGPU is not available', `${window.isSecureContext ? WEBGPU_HELP : SECURE_CONTEXT_HELP}\n\nDetails: ${e.message}`);
  } else {
    setStatus('Error', 'error');
    showError('The page could not start', e.message);
  }
});
