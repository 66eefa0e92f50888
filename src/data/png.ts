// PNG decoder via pngjs, converted to RGB exactly like Pillow 9.4's Image.open(f).convert('RGB'):
// grey replicated, alpha dropped without compositing, palette (with or without tRNS) -> palette colours,
// 1/2/4-bit grey scaled to 0..255, 16-bit RGB(A)/LA -> high byte, 16-bit grey (PIL mode 'I') clipped to 255.
// The only file of the decoders that needs Node (pngjs wants a Buffer); browsers decode PNG natively.
import { PNG, type PNGWithMetadata } from 'pngjs';
import { checkPixelCount, type RgbImage } from './image.js';

const GREY = 0;
const RGB = 2;

/** How PIL turns one stored sample into an 8-bit value. */
function toByte(colorType: number, depth: number, palette: boolean): (v: number) => number {
  if (palette || depth === 8) return (v) => v;
  if (depth === 16) return colorType === GREY ? (v) => Math.min(v, 255) : (v) => v >> 8;
  const max = (1 << depth) - 1;
  return (v) => (v * 255) / max;
}

/** Width and height from the IHDR chunk (always first, at byte 8), checked before pngjs inflates anything. */
function checkHeader(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') throw new Error('no IHDR chunk after the signature');
  checkPixelCount(view.getUint32(16), view.getUint32(20), 'PNG');
}

export function decodePng(bytes: Uint8Array): RgbImage {
  checkHeader(bytes);
  // skipRescale keeps 16-bit samples (then data is a Uint16Array) and low-depth grey levels as stored.
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    skipRescale: true,
  }) as PNGWithMetadata & { transColor?: number[] };
  const { width, height, depth, colorType, palette } = png;
  const rgba = png.data as ArrayLike<number>;
  const convert = toByte(colorType, depth, palette);
  // pngjs blanks pixels of the tRNS colour (RGBA = 0); PIL keeps their colour, which is the tRNS colour.
  const trns = !palette && (colorType === GREY || colorType === RGB) ? png.transColor : undefined;
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const restore = trns !== undefined && rgba[i * 4 + 3] === 0;
    for (let c = 0; c < 3; c++) {
      out[i * 3 + c] = convert(restore ? trns[trns.length === 1 ? 0 : c] : rgba[i * 4 + c]);
    }
  }
  return { width, height, data: out };
}
