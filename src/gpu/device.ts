// Finds a WebGPU adapter and opens a device, in Node (Dawn through the `webgpu` package) and in
// browsers (navigator.gpu). Nothing outside this file knows which of the two it runs in.
//
// Preference without a filter: a hardware adapter, then Mesa llvmpipe (Dawn's OpenGL backend, in
// compatibility mode), then SwiftShader (Vulkan). A filter TEXT picks the first adapter whose vendor,
// architecture, device, description or backend contains TEXT (case-insensitive).

export interface AdapterDescription {
  description: string;
  device: string;
  vendor: string;
  architecture: string;
  backend: string;
  featureLevel: 'core' | 'compatibility';
  isFallbackAdapter: boolean;
}

export interface OpenedDevice {
  device: GPUDevice;
  adapter: AdapterDescription;
  /** How to await a promise of the WebGPU bindings (GPU work done, a buffer mapped); unset: plainly. */
  settle?: Settle;
}

export type Settle = <T>(promise: Promise<T>) => Promise<T>;

/** Thrown when no adapter could be opened; its message says what was tried and what to install. */
export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
}

export const ADAPTER_ENV = 'SHUFFLENET_ADAPTER';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

interface Candidate {
  /** What the user is told when this one fails. */
  label: string;
  request: () => Promise<{ adapter: GPUAdapter; backend: string; featureLevel: 'core' | 'compatibility' } | null>;
}

function describe(adapter: GPUAdapter, backend: string, featureLevel: 'core' | 'compatibility'): AdapterDescription {
  const info = adapter.info;
  return {
    description: info.description ?? '',
    device: info.device ?? '',
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    backend,
    featureLevel,
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
  };
}

/** What an adapter says it is, lower-cased: the text the adapter tests below match. */
const adapterText = (d: AdapterDescription): string => `${d.vendor} ${d.architecture} ${d.device} ${d.description}`.toLowerCase();

export function isSoftware(d: AdapterDescription): boolean {
  return d.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|softpipe/.test(adapterText(d));
}

export const isSwiftShader = (d: AdapterDescription): boolean => adapterText(d).includes('swiftshader');
export const isLlvmpipe = (d: AdapterDescription): boolean => adapterText(d).includes('llvmpipe');

export function matchesFilter(d: AdapterDescription, filter: string): boolean {
  const needle = filter.toLowerCase();
  return [d.vendor, d.architecture, d.device, d.description, d.backend].some((s) => s.toLowerCase().includes(needle));
}

async function requestWith(gpu: GPU, options: GPURequestAdapterOptions): Promise<GPUAdapter | null> {
  try {
    return await gpu.requestAdapter(options);
  } catch {
    return null;
  }
}

// Dawn instances live as long as the process: a collected instance takes its devices down with it.
const dawnInstances: { vulkan?: GPU; opengl?: GPU } = {};

/** Node: Dawn instances for Vulkan (hardware, and SwiftShader added as an extra driver) and OpenGL (llvmpipe). */
async function nodeCandidates(): Promise<Candidate[]> {
  const webgpuModule = 'webgpu';
  let dawn: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    dawn = await import(/* @vite-ignore */ webgpuModule);
  } catch (e) {
    throw new NoAdapterError(`The npm package 'webgpu' (Dawn for Node) could not be loaded: ${(e as Error).message}\nRun 'npm ci' in the project folder.`);
  }
  Object.assign(globalThis, dawn.globals);
  const env = process.env;
  env.XDG_RUNTIME_DIR ??= '/tmp';
  const fs = await import('node:fs');
  if (!env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES && fs.existsSync(SWIFTSHADER_ICD)) {
    // Adds SwiftShader beside whatever hardware drivers the Vulkan loader finds.
    env.VK_ADD_DRIVER_FILES = env.VK_ADD_DRIVER_FILES ? `${env.VK_ADD_DRIVER_FILES}:${SWIFTSHADER_ICD}` : SWIFTSHADER_ICD;
  }
  const vulkanInstance = () => (dawnInstances.vulkan ??= dawn.create([]));
  const openglInstance = () => {
    env.EGL_PLATFORM ??= 'surfaceless';
    return (dawnInstances.opengl ??= dawn.create(['backend=opengl']));
  };
  return [
    {
      label: 'a hardware GPU through Vulkan',
      request: async () => {
        const adapter = await requestWith(vulkanInstance(), { powerPreference: 'high-performance' });
        if (!adapter || isSoftware(describe(adapter, 'vulkan', 'core'))) return null;
        return { adapter, backend: 'vulkan', featureLevel: 'core' };
      },
    },
    {
      label: 'Mesa llvmpipe through OpenGL (EGL_PLATFORM=surfaceless)',
      request: async () => {
        const adapter = await requestWith(openglInstance(), { featureLevel: 'compatibility' });
        return adapter ? { adapter, backend: 'opengl', featureLevel: 'compatibility' } : null;
      },
    },
    {
      label: `SwiftShader through Vulkan (${SWIFTSHADER_ICD})`,
      request: async () => {
        const adapter = await requestWith(vulkanInstance(), { forceFallbackAdapter: true });
        return adapter ? { adapter, backend: 'vulkan', featureLevel: 'core' } : null;
      },
    },
  ];
}

/** How long a pending promise is polled for without sleeping, and the longest sleep between polls after that, milliseconds. */
const SPIN_MS = 0.3;
const LONGEST_PAUSE_MS = 0.5;

/**
 * Node: dawn.node resolves its promises by processing Dawn's events from setImmediate, again and
 * again while one is pending, a busy loop that takes a core from a software adapter's threads for as
 * long as the GPU works (40% of SwiftShader's inference on two cores). This polls as that loop does
 * for SPIN_MS (work already done, as llvmpipe's is when submit returns, settles without a sleep's
 * wake-up latency), then once between sleeps of the thread (Atomics.wait, no CPU used), from 0.05 ms
 * doubling to LONGEST_PAUSE_MS.
 */
async function settleBetweenPauses<T>(promise: Promise<T>): Promise<T> {
  let settled = false;
  const done = () => {
    settled = true;
  };
  promise.then(done, done);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const start = performance.now();
  for (let pause = 0.05; !settled; ) {
    if (performance.now() - start > SPIN_MS) {
      Atomics.wait(sleeper, 0, 0, pause);
      pause = Math.min(2 * pause, LONGEST_PAUSE_MS);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return promise;
}

function browserCandidates(gpu: GPU): Candidate[] {
  return [
    {
      label: "the browser's WebGPU adapter",
      request: async () => {
        const adapter = await requestWith(gpu, { powerPreference: 'high-performance' });
        return adapter ? { adapter, backend: 'browser', featureLevel: 'core' } : null;
      },
    },
    {
      label: "the browser's WebGPU adapter in compatibility mode",
      request: async () => {
        const adapter = await requestWith(gpu, { featureLevel: 'compatibility' });
        return adapter ? { adapter, backend: 'browser', featureLevel: 'compatibility' } : null;
      },
    },
  ];
}

const LIMITS_WE_RAISE = [
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
] as const;

async function openDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_WE_RAISE) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  return adapter.requestDevice({ requiredLimits, requiredFeatures });
}

const BROWSER_HINT =
  "The browser offers WebGPU but no adapter: enable hardware acceleration, or WebGPU in the browser's flags (chrome://flags/#enable-unsafe-webgpu), and open the page over http://localhost or https.";

const INSTALL_HINT = [
  'To get a software adapter on Debian or Ubuntu, install one of:',
  '  - Mesa llvmpipe (OpenGL): apt-get install libegl1 libgl1-mesa-dri',
  '  - SwiftShader (Vulkan):   apt-get install libvulkan1 chromium   (ships /usr/lib/chromium/libvk_swiftshader.so)',
  'or pass --adapter cpu to run on the (slow) CPU reference.',
].join('\n');

/**
 * Opens the first adapter that works (or the first that matches `filter`) and a device with the
 * adapter's full compute limits. Throws NoAdapterError with a readable message when none works.
 */
export async function openGpu(filter?: string): Promise<OpenedDevice> {
  const browserGpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  const inBrowser = typeof (globalThis as { window?: unknown }).window !== 'undefined';
  if (inBrowser && !browserGpu) {
    throw new NoAdapterError(
      "This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome or Edge, or enable WebGPU in your browser's flags (chrome://flags/#enable-unsafe-webgpu).",
    );
  }
  const candidates = browserGpu ? browserCandidates(browserGpu) : await nodeCandidates();
  const tried: string[] = [];
  for (const candidate of candidates) {
    const found = await candidate.request();
    if (!found) {
      tried.push(`${candidate.label}: no adapter`);
      continue;
    }
    const description = describe(found.adapter, found.backend, found.featureLevel);
    if (filter && !matchesFilter(description, filter)) {
      tried.push(`${candidate.label}: found '${description.device || description.description}', which does not match '${filter}'`);
      continue;
    }
    try {
      return { device: await openDevice(found.adapter), adapter: description, settle: browserGpu ? undefined : settleBetweenPauses };
    } catch (e) {
      tried.push(`${candidate.label}: requestDevice failed: ${(e as Error).message}`);
    }
  }
  const what = filter ? `No WebGPU adapter matching '${filter}' could be opened.` : 'No WebGPU adapter could be opened.';
  const hint = browserGpu ? BROWSER_HINT : INSTALL_HINT;
  throw new NoAdapterError(`${what}\nTried:\n${tried.map((t) => `  - ${t}`).join('\n')}\n${hint}`);
}
