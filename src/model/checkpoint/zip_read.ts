// Zip archive reader for PyTorch checkpoints: the central directory (zip64 included), stored entries
// and deflated ones (through the platform's DecompressionStream), every entry checked against its CRC-32.
// Messages here do not name the file; the callers prefix it.

import { crc32 } from './crc32.js';
import { CheckpointError } from './types.js';

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  headerOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function truncated(what: string): CheckpointError {
  return new CheckpointError(`truncated or damaged zip archive: ${what} (the file was probably cut short)`);
}

class Reader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  has(offset: number, length: number): boolean {
    return offset >= 0 && offset + length <= this.bytes.length;
  }
  u16(offset: number): number {
    return this.view.getUint16(offset, true);
  }
  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }
  u64(offset: number): number {
    return this.u32(offset) + this.u32(offset + 4) * 2 ** 32;
  }
}

function findEndRecord(r: Reader): number {
  const last = r.bytes.length - 22;
  for (let at = last; at >= 0 && at >= last - 0xffff; at--) {
    if (r.u32(at) === EOCD) return at;
  }
  throw truncated('no end-of-central-directory record');
}

/** Directory location and entry count, from the zip64 records when the classic fields overflow. */
function directoryBounds(r: Reader, eocd: number): { count: number; size: number; offset: number } {
  let count = r.u16(eocd + 10);
  let size = r.u32(eocd + 12);
  let offset = r.u32(eocd + 16);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const locator = eocd - 20;
    if (!r.has(locator, 20) || r.u32(locator) !== ZIP64_LOCATOR) throw truncated('zip64 locator missing');
    const record = r.u64(locator + 8);
    if (!r.has(record, 56) || r.u32(record) !== ZIP64_EOCD) throw truncated('zip64 end record missing');
    count = r.u64(record + 32);
    size = r.u64(record + 40);
    offset = r.u64(record + 48);
  }
  if (!r.has(offset, size)) throw truncated('central directory lies outside the file');
  return { count, size, offset };
}

/** Sizes and offset that the classic fields mark as 0xffffffff live in a zip64 extra field. */
function applyZip64Extra(r: Reader, entry: ZipEntry, extraStart: number, extraLength: number): void {
  for (let at = extraStart; at + 4 <= extraStart + extraLength; ) {
    const id = r.u16(at);
    const length = r.u16(at + 2);
    if (id === 0x0001) {
      let field = at + 4;
      const next = (): number => {
        const value = r.u64(field);
        field += 8;
        return value;
      };
      if (entry.size === 0xffffffff) entry.size = next();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
      if (entry.headerOffset === 0xffffffff) entry.headerOffset = next();
    }
    at += 4 + length;
  }
}

export function readZipDirectory(bytes: Uint8Array): Map<string, ZipEntry> {
  const r = new Reader(bytes);
  const { count, offset } = directoryBounds(r, findEndRecord(r));
  const decoder = new TextDecoder();
  const entries = new Map<string, ZipEntry>();
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (!r.has(at, 46) || r.u32(at) !== CENTRAL) throw truncated(`central directory entry ${i} is damaged`);
    const nameLength = r.u16(at + 28);
    const extraLength = r.u16(at + 30);
    const commentLength = r.u16(at + 32);
    if (!r.has(at + 46, nameLength + extraLength)) throw truncated(`central directory entry ${i} is cut short`);
    const entry: ZipEntry = {
      name: decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength)),
      flags: r.u16(at + 8),
      method: r.u16(at + 10),
      crc32: r.u32(at + 16),
      compressedSize: r.u32(at + 20),
      size: r.u32(at + 24),
      headerOffset: r.u32(at + 42),
    };
    applyZip64Extra(r, entry, at + 46 + nameLength, extraLength);
    entries.set(entry.name, entry);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

async function inflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const input = new Blob([data.slice()]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(input).arrayBuffer());
}

/** The entry's uncompressed bytes (a view into `bytes` for stored entries). */
export async function readZipEntry(bytes: Uint8Array, entry: ZipEntry): Promise<Uint8Array> {
  const r = new Reader(bytes);
  const at = entry.headerOffset;
  if (!r.has(at, 30) || r.u32(at) !== LOCAL) throw truncated(`local header of '${entry.name}' is missing`);
  if (entry.flags & 1) throw new CheckpointError(`zip entry '${entry.name}' is encrypted`);
  const start = at + 30 + r.u16(at + 26) + r.u16(at + 28);
  if (!r.has(start, entry.compressedSize)) throw truncated(`data of '${entry.name}' ends past the end of the file`);
  const raw = bytes.subarray(start, start + entry.compressedSize);
  let data: Uint8Array;
  if (entry.method === 0) {
    data = raw;
  } else if (entry.method === 8) {
    try {
      data = await inflateRaw(raw);
    } catch (e) {
      throw new CheckpointError(`zip entry '${entry.name}' could not be inflated: ${(e as Error).message}`);
    }
  } else {
    throw new CheckpointError(`zip entry '${entry.name}' uses unsupported compression method ${entry.method}`);
  }
  if (data.length !== entry.size || crc32(data) !== entry.crc32) {
    throw new CheckpointError(`zip entry '${entry.name}' is corrupted (size or CRC-32 mismatch)`);
  }
  return data;
}
