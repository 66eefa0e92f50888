// Node's Buffer in the browser bundles, for the engine's PNG code (src/data/png.ts decodes and
// src/util/raster/png.ts encodes through pngjs, which works on Buffers). The bundles take pngjs's own
// browser build (node_modules/pngjs/browser.js: the same decoder with zlib and Buffer bundled in), and
// esbuild's `inject` points every free use of `Buffer` here: that build's Buffer class, reached
// through a PNG's pixel buffer. So a page decodes PNG with the very code Node uses.

import { PNG } from 'pngjs';

export const Buffer = new PNG({ width: 1, height: 1 }).data.constructor as typeof globalThis.Buffer;
