// Recognizes a checkpoint's format from its first bytes, and says what a file that is not one looks like.

import { CheckpointError } from './types.js';

export type CheckpointFormat = 'zip' | 'legacy' | 'safetensors';

function startsWith(bytes: Uint8Array, prefix: number[], at = 0): boolean {
  return prefix.every((b, i) => bytes[at + i] === b);
}

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

export function detectFormat(bytes: Uint8Array): CheckpointFormat | undefined {
  if (startsWith(bytes, ascii('PK\x03\x04')) || startsWith(bytes, ascii('PK\x05\x06'))) return 'zip';
  // Legacy files start with a protocol 2+ pickle of PyTorch's magic number.
  if (bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5) return 'legacy';
  // safetensors: a little-endian u64 header length, then the JSON header.
  if (bytes.length >= 9 && bytes[8] === 0x7b && startsWith(bytes, [0, 0, 0, 0], 4)) return 'safetensors';
  return undefined;
}

const SIGNATURES: [number[], number, string][] = [
  [[0x89, ...ascii('PNG')], 0, 'looks like a PNG image'],
  [[0xff, 0xd8, 0xff], 0, 'looks like a JPEG image'],
  [ascii('GIF8'), 0, 'looks like a GIF image'],
  [[0x1f, 0x8b], 0, 'is gzip-compressed (decompress it first)'],
  [[0x89, ...ascii('HDF')], 0, 'is an HDF5 file (a Keras checkpoint?)'],
  [[0x93, ...ascii('NUMPY')], 0, 'is a NumPy .npy array'],
  [ascii('ustar'), 257, 'is a tar archive (PyTorch 0.3 and older wrote those; they are not supported)'],
];

/** The error for bytes in no supported format, saying what they look like instead. */
export function unrecognized(bytes: Uint8Array): CheckpointError {
  const known = SIGNATURES.find(([signature, at]) => startsWith(bytes, signature, at));
  let what: string;
  if (bytes.length === 0) what = 'the file is empty';
  else if (known) what = `it ${known[2]}`;
  else if (bytes.subarray(0, 64).every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d)) {
    what = `it looks like a text file (it starts with ${JSON.stringify(String.fromCharCode(...bytes.subarray(0, 24)))})`;
  } else {
    what = `unrecognized format (first bytes ${[...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`;
  }
  return new CheckpointError(`not a PyTorch or safetensors checkpoint: ${what}`);
}
