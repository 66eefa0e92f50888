// The package's Node entry (`import ... from 'shufflenet-webgpu'` in Node): the shared surface, whose
// initBackend() opens Dawn (npm `webgpu`) here, plus the `node` namespace (files, the trainer).

export * from './api/index.js';
export * as node from './api/node.js';
