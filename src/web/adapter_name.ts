// A readable name for the backend a page runs on. Browsers often leave the adapter's device and
// description empty (Chromium's SwiftShader reports only vendor 'google', architecture 'swiftshader').

import type { Backend } from '../backends/backend.js';
import { GpuBackend } from '../backends/gpu.js';

export function adapterName(backend: Backend): string {
  if (!(backend instanceof GpuBackend)) return `CPU reference (${backend.name})`;
  const a = backend.adapter;
  const parts = [...new Set([a.description, a.device, a.vendor, a.architecture].filter((s) => s.length > 0))];
  const name = parts.length > 0 ? parts.join(' ') : 'unnamed WebGPU adapter';
  return a.isFallbackAdapter ? `${name} (software fallback)` : name;
}
