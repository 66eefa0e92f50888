// The public surface both package entries share (src/index.ts for Node, src/browser.ts for
// browsers): tensors and autograd at the root, everything else in namespaces grouped by purpose.

export * from './tensors.js';
export * as models from './models.js';
export * as nn from './nn.js';
export * as optim from './optim.js';
export * as training from './training.js';
export * as transforms from './transforms.js';
export * as web from './web.js';
