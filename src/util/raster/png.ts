// PNG encoding of a canvas (Node only: pngjs writes through Buffer).

import { PNG } from 'pngjs';
import type { Canvas } from './canvas.js';

export function encodePng(canvas: Canvas): Uint8Array {
  const png = new PNG({ width: canvas.width, height: canvas.height });
  png.data = Buffer.from(canvas.data.buffer, canvas.data.byteOffset, canvas.data.byteLength);
  const file = PNG.sync.write(png);
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
}
