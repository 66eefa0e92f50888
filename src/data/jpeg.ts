// JPEG decoder: jpeg-js for entropy decoding and IDCT, then libjpeg-turbo's colour pipeline (what
// Pillow 9.4 uses) redone here so the result is close to PIL's convert('RGB'): jpeg-js is asked for raw
// component samples, the subsampled chroma planes are recovered from them and upsampled with
// libjpeg's "fancy" triangle filters (jpeg_upsample.ts), and YCbCr -> RGB uses libjpeg's fixed-point
// tables. What remains is jpeg-js's IDCT, a few grey levels at most. CMYK/YCCK (Adobe) files use
// jpeg-js's own CMYK -> RGB conversion, which is PIL's formula up to rounding. Browser-safe.
import { decode } from 'jpeg-js';
import { checkPixelCount, type RgbImage } from './image.js';
import { componentPlane, upsample, type Plane } from './jpeg_upsample.js';

interface Component {
  id: number;
  h: number;
  v: number;
}

interface JpegHeader {
  /** Start-of-frame marker (0xc0 baseline, 0xc1 extended, 0xc2 progressive, ...) and sample precision. */
  sof: number;
  precision: number;
  components: Component[];
  jfif: boolean;
  /** Adobe APP14 colour transform (0 = none, 1 = YCbCr, 2 = YCCK) and where that byte is, if present. */
  adobe?: { transform: number; offset: number };
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** Reads the markers before the first scan: frame components, JFIF and Adobe APP14. */
function readHeader(bytes: Uint8Array): JpegHeader {
  const header: JpegHeader = { sof: 0, precision: 0, components: [], jfif: false };
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) throw new Error(`expected a marker at byte ${pos}`);
    const marker = bytes[pos + 1];
    if (marker === 0xff) {
      pos++;
      continue;
    }
    if (marker === 0xda) {
      if (header.sof === 0) throw new Error('no frame header before the first scan');
      return header;
    }
    const length = (bytes[pos + 2] << 8) | bytes[pos + 3];
    const seg = bytes.subarray(pos + 4, pos + 2 + length);
    if (SOF_MARKERS.has(marker)) {
      header.sof = marker;
      header.precision = seg[0];
      checkPixelCount((seg[3] << 8) | seg[4], (seg[1] << 8) | seg[2], 'JPEG');
      for (let i = 0; i < seg[5]; i++) {
        const b = 6 + i * 3;
        header.components.push({ id: seg[b], h: seg[b + 1] >> 4, v: seg[b + 1] & 15 });
      }
    } else if (marker === 0xe0 && ascii(seg, 0, 5) === 'JFIF\0') {
      header.jfif = true;
    } else if (marker === 0xee && seg.length >= 12 && ascii(seg, 0, 5) === 'Adobe') {
      header.adobe = { transform: seg[11], offset: pos + 4 + 11 };
    }
    pos += 2 + length;
  }
  throw new Error('no image data (missing start-of-scan marker)');
}

function ascii(b: Uint8Array, start: number, n: number): string {
  return String.fromCharCode(...b.subarray(start, start + n));
}

/** libjpeg's guess of the colour space of a 3-component file (jdapimin.c default_decompress_parms). */
function isYCbCr(h: JpegHeader): boolean {
  if (h.jfif) return true;
  if (h.adobe) return h.adobe.transform !== 0;
  const [a, b, c] = h.components.map((x) => x.id);
  return !(a === 82 && b === 71 && c === 66);
}

const FIX = (x: number) => Math.floor(x * 65536 + 0.5);
const CR_R = FIX(1.402);
const CB_B = FIX(1.772);
const CB_G = -FIX(0.34414);
const CR_G = -FIX(0.71414);

/** libjpeg ycc_rgb_convert: 16-bit fixed point with its rounding, then clamp. */
function yccToRgb(y: Plane, cb: Plane, cr: Plane, out: Uint8Array): void {
  const clamp = (v: number) => (v < 0 ? 0 : Math.min(v, 255));
  for (let i = 0; i < y.data.length; i++) {
    const b = cb.data[i] - 128;
    const r = cr.data[i] - 128;
    const l = y.data[i];
    out[i * 3] = clamp(l + ((CR_R * r + 32768) >> 16));
    out[i * 3 + 1] = clamp(l + ((CB_G * b + 32768 + CR_G * r) >> 16));
    out[i * 3 + 2] = clamp(l + ((CB_B * b + 32768) >> 16));
  }
}

export function decodeJpeg(bytes: Uint8Array): RgbImage {
  const header = readHeader(bytes);
  if (header.sof > 0xc2) throw new Error(`unsupported JPEG coding (SOF${header.sof - 0xc0}: lossless, hierarchical or arithmetic)`);
  if (header.precision !== 8) throw new Error(`unsupported ${header.precision}-bit JPEG samples`);
  const n = header.components.length;
  if (n !== 1 && n !== 3 && n !== 4) throw new Error(`unsupported JPEG with ${n} colour components`);
  if (n === 4 && !header.adobe) throw new Error('unsupported CMYK JPEG without an Adobe marker');
  let input = bytes;
  if (n === 3 && header.adobe && header.adobe.transform !== 0) {
    // jpeg-js would force its own YCbCr conversion; a copy marked "no transform" yields the raw samples.
    input = bytes.slice();
    input[header.adobe.offset] = 0;
  }
  const maxH = Math.max(...header.components.map((c) => c.h));
  const maxV = Math.max(...header.components.map((c) => c.v));
  if (header.components.some((c) => maxH % c.h !== 0 || maxV % c.v !== 0)) {
    throw new Error('unsupported fractional JPEG sampling factors');
  }
  const raw = decode(input, { useTArray: true, formatAsRGBA: false, colorTransform: false });
  const { width, height } = raw;
  if (n !== 3) return { width, height, data: raw.data };
  const planes = header.components.map((c, i) => {
    const ex = maxH / c.h;
    const ey = maxV / c.v;
    return upsample(componentPlane(raw.data, width, height, i, ex, ey), ex, ey, width, height);
  });
  const data = new Uint8Array(width * height * 3);
  if (isYCbCr(header)) {
    yccToRgb(planes[0], planes[1], planes[2], data);
  } else {
    for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = planes[c].data[i];
  }
  return { width, height, data };
}
