// BMP decoder giving the same RGB as Pillow 9.4's BmpImagePlugin + convert('RGB'). Headers: OS/2 core
// (12 bytes), BITMAPINFOHEADER (40) and its V2/V3/OS2/V4/V5 extensions (52, 56, 64, 108, 124).
// Pixels: 1/4/8-bit palette (raw, BI_RLE8, BI_RLE4), 16/24/32-bit (raw or BI_BITFIELDS), bottom-up or
// top-down. Palette indices past the stored palette read as grey (i, i, i), like PIL. Browser-safe.
import { checkPixelCount, type RgbImage } from './image.js';

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const COMPRESSION_NAMES = ['BI_RGB', 'BI_RLE8', 'BI_RLE4', 'BI_BITFIELDS', 'BI_JPEG', 'BI_PNG', 'BI_ALPHABITFIELDS'];

/** Default channel masks when there are no bitfields: 5-5-5 for 16-bit, BGR bytes otherwise. */
const DEFAULT_MASKS: Record<number, number[]> = {
  16: [0x7c00, 0x3e0, 0x1f],
  24: [0xff0000, 0xff00, 0xff],
  32: [0xff0000, 0xff00, 0xff],
};

interface BmpInfo {
  width: number;
  height: number;
  topDown: boolean;
  bits: number;
  compression: number;
  /** RGB palette (256 entries, grey ramp past the stored ones) for bits <= 8. */
  palette?: Uint8Array;
  /** Red, green and blue masks for bits >= 16. */
  masks?: number[];
  dataOffset: number;
}

function readInfo(b: Uint8Array, view: DataView): BmpInfo {
  if (b.length < 26) throw new Error('truncated BMP header');
  const headerSize = view.getUint32(14, true);
  if (![12, 40, 52, 56, 64, 108, 124].includes(headerSize)) throw new Error(`unsupported BMP header size ${headerSize}`);
  if (b.length < 14 + headerSize) throw new Error('truncated BMP header');
  const core = headerSize === 12;
  const width = core ? view.getUint16(18, true) : view.getInt32(18, true);
  const rawHeight = core ? view.getUint16(20, true) : view.getInt32(22, true);
  const bits = view.getUint16(core ? 24 : 28, true);
  const compression = core ? BI_RGB : view.getUint32(30, true);
  if (width <= 0 || rawHeight === 0) throw new Error(`invalid BMP size ${width}x${rawHeight}`);
  checkPixelCount(width, Math.abs(rawHeight), 'BMP');
  if (compression > BI_BITFIELDS) {
    throw new Error(`unsupported BMP compression ${COMPRESSION_NAMES[compression] ?? compression}`);
  }
  let pos = 14 + headerSize;
  let masks: number[] | undefined;
  let palette: Uint8Array | undefined;
  if (bits === 16 || bits === 24 || bits === 32) {
    if (compression === BI_BITFIELDS) {
      if (headerSize === 40) {
        if (b.length < pos + 12) throw new Error('truncated BMP bitfield masks');
        masks = [0, 4, 8].map((o) => view.getUint32(pos + o, true));
        pos += 12;
      } else {
        masks = [0, 4, 8].map((o) => view.getUint32(54 + o, true));
      }
      if (masks.every((m) => m === 0)) masks = undefined;
    } else if (compression !== BI_RGB) {
      throw new Error(`unsupported BMP compression ${COMPRESSION_NAMES[compression]} with ${bits}-bit pixels`);
    }
    masks ??= DEFAULT_MASKS[bits];
  } else if (bits === 1 || bits === 4 || bits === 8) {
    const rle = (compression === BI_RLE8 && bits === 8) || (compression === BI_RLE4 && bits === 4);
    if (compression !== BI_RGB && !rle) {
      throw new Error(`unsupported BMP compression ${COMPRESSION_NAMES[compression]} with ${bits}-bit pixels`);
    }
    const colors = (!core && view.getUint32(46, true)) || 1 << bits;
    if (colors > 65536) throw new Error(`unsupported BMP palette size ${colors}`);
    const entry = core ? 3 : 4;
    if (b.length < pos + colors * entry) throw new Error('truncated BMP palette');
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) {
      const p = pos + i * entry;
      palette.set(i < colors ? [b[p + 2], b[p + 1], b[p]] : [i, i, i], i * 3);
    }
    pos += colors * entry;
  } else {
    throw new Error(`unsupported BMP pixel depth ${bits} bits`);
  }
  const dataOffset = view.getUint32(10, true) || pos;
  return { width, height: Math.abs(rawHeight), topDown: rawHeight < 0, bits, compression, palette, masks, dataOffset };
}

/** Bytes per stored row: padded to a multiple of 4. */
function rowStride(width: number, bits: number): number {
  return Math.ceil((width * bits) / 32) * 4;
}

/** Palette indices of a raw 1/4/8-bit bitmap, rows in file order, MSB-first packing. */
function rawIndices(b: Uint8Array, info: BmpInfo): Uint8Array {
  const { width, height, bits, dataOffset } = info;
  const stride = rowStride(width, bits);
  if (b.length < dataOffset + stride * (height - 1) + Math.ceil((width * bits) / 8)) {
    throw new Error('truncated BMP pixel data');
  }
  const out = new Uint8Array(width * height);
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  for (let y = 0; y < height; y++) {
    const row = dataOffset + y * stride;
    for (let x = 0; x < width; x++) {
      const byte = b[row + Math.floor(x / perByte)];
      out[y * width + x] = (byte >> (8 - bits * ((x % perByte) + 1))) & mask;
    }
  }
  return out;
}

/**
 * Palette indices of a BI_RLE8 / BI_RLE4 bitmap, rows in file order. Follows PIL's BmpRleDecoder
 * (runs clipped at the row end, absolute runs may spill over, missing pixels are index 0, data that
 * ends early just stops), but reads delta escapes and odd-length RLE4 absolute runs as the format
 * specifies, where PIL 9.4 misreads them.
 */
function rleIndices(b: Uint8Array, info: BmpInfo): Uint8Array {
  const { width, height, dataOffset } = info;
  const rle4 = info.compression === BI_RLE4;
  const total = width * height;
  const out = new Uint8Array(total);
  const put = (n: number, v: number) => {
    if (n < total) out[n] = v;
  };
  let pos = dataOffset;
  let n = 0;
  let x = 0;
  while (n < total && pos + 1 < b.length) {
    const count = b[pos];
    const code = b[pos + 1];
    pos += 2;
    if (count > 0) {
      const run = Math.min(count, Math.max(0, width - x));
      for (let i = 0; i < run; i++) put(n + i, rle4 ? (i % 2 === 0 ? code >> 4 : code & 15) : code);
      n += run;
      x += run;
    } else if (code === 0) {
      n = Math.ceil(n / width) * width;
      x = 0;
    } else if (code === 1) {
      break;
    } else if (code === 2) {
      if (pos + 1 >= b.length) break;
      n += b[pos] + b[pos + 1] * width;
      x = n % width;
      pos += 2;
    } else {
      const bytes = rle4 ? Math.ceil(code / 2) : code;
      if (pos + bytes > b.length) break;
      for (let i = 0; i < code; i++) {
        put(n + i, rle4 ? (i % 2 === 0 ? b[pos + (i >> 1)] >> 4 : b[pos + (i >> 1)] & 15) : b[pos + i]);
      }
      n += code;
      x += code;
      pos += bytes + (bytes & 1);
    }
  }
  return out;
}

/** RGB of a 16/24/32-bit bitmap, rows in file order; an n-bit channel scales as floor(v * 255 / (2^n - 1)). */
function directRgb(b: Uint8Array, info: BmpInfo, masks: number[]): Uint8Array {
  const { width, height, bits, dataOffset } = info;
  const bytesPerPixel = bits / 8;
  const stride = rowStride(width, bits);
  if (b.length < dataOffset + stride * (height - 1) + width * bytesPerPixel) throw new Error('truncated BMP pixel data');
  const channels = masks.map((m) => {
    const shift = m === 0 ? 0 : 31 - Math.clz32(m & -m);
    const max = m >>> shift;
    if ((max & (max + 1)) !== 0) throw new Error(`unsupported BMP bitfield mask 0x${m.toString(16)}`);
    return { mask: m, shift, max };
  });
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = dataOffset + y * stride + x * bytesPerPixel;
      let v = b[p] | (b[p + 1] << 8);
      if (bytesPerPixel >= 3) v |= b[p + 2] << 16;
      if (bytesPerPixel === 4) v |= b[p + 3] << 24;
      for (let c = 0; c < 3; c++) {
        const { mask, shift, max } = channels[c];
        const raw = (v & mask) >>> shift;
        out[(y * width + x) * 3 + c] = max === 0 ? 0 : max === 255 ? raw : Math.floor((raw * 255) / max);
      }
    }
  }
  return out;
}

export function decodeBmp(bytes: Uint8Array): RgbImage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const info = readInfo(bytes, view);
  const { width, height, palette } = info;
  let rows: Uint8Array;
  if (palette) {
    const indices = info.compression === BI_RGB ? rawIndices(bytes, info) : rleIndices(bytes, info);
    rows = new Uint8Array(width * height * 3);
    for (let i = 0; i < indices.length; i++) {
      const p = indices[i] * 3;
      rows[i * 3] = palette[p];
      rows[i * 3 + 1] = palette[p + 1];
      rows[i * 3 + 2] = palette[p + 2];
    }
  } else {
    rows = directRgb(bytes, info, info.masks!);
  }
  if (info.topDown) return { width, height, data: rows };
  const data = new Uint8Array(rows.length);
  const stride = width * 3;
  for (let y = 0; y < height; y++) data.set(rows.subarray(y * stride, (y + 1) * stride), (height - 1 - y) * stride);
  return { width, height, data };
}
