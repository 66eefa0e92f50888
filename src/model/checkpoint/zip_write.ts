// Zip archive writer laid out exactly as PyTorch's PyTorchStreamWriter (miniz) lays it out: stored
// entries, each local header followed by an 'FB' extra field of 'Z' padding that puts the data on a
// 64-byte boundary, zero time stamps, a data descriptor after each non-empty entry, zip64 end records.

import { crc32 } from './crc32.js';
import { CheckpointError } from './types.js';

export interface ZipRecord {
  name: string;
  data: Uint8Array;
}

const ALIGNMENT = 64;
const UTF8_NAMES = 0x0800;
const DATA_DESCRIPTOR = 0x0008; // miniz gives empty entries none

class ByteSink {
  private chunks: Uint8Array[] = [];
  length = 0;
  bytes(data: Uint8Array): void {
    this.chunks.push(data);
    this.length += data.length;
  }
  private fields(sizes: number[], values: number[]): void {
    const out = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
    const view = new DataView(out.buffer);
    let at = 0;
    sizes.forEach((size, i) => {
      if (size === 2) view.setUint16(at, values[i], true);
      else if (size === 4) view.setUint32(at, values[i], true);
      else view.setBigUint64(at, BigInt(values[i]), true);
      at += size;
    });
    this.bytes(out);
  }
  u16(...values: number[]): void {
    this.fields(
      values.map(() => 2),
      values,
    );
  }
  u32(...values: number[]): void {
    this.fields(
      values.map(() => 4),
      values,
    );
  }
  u64(...values: number[]): void {
    this.fields(
      values.map(() => 8),
      values,
    );
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

/** 'FB', the padding length, then 'Z's up to the next 64-byte boundary after the extra field. */
function paddingField(dataStartWithoutPadding: number): Uint8Array {
  const padding = (ALIGNMENT - (dataStartWithoutPadding % ALIGNMENT)) % ALIGNMENT;
  const field = new Uint8Array(4 + padding).fill(0x5a);
  field.set([0x46, 0x42, padding & 0xff, padding >> 8]);
  return field;
}

export function writeZip(records: ZipRecord[]): Uint8Array {
  const out = new ByteSink();
  const encoder = new TextEncoder();
  const central: { name: Uint8Array; flags: number; crc: number; size: number; offset: number }[] = [];
  for (const record of records) {
    const name = encoder.encode(record.name);
    const offset = out.length;
    const extra = paddingField(offset + 30 + name.length + 4);
    const crc = crc32(record.data);
    const size = record.data.length;
    const flags = size > 0 ? UTF8_NAMES | DATA_DESCRIPTOR : UTF8_NAMES;
    out.u32(0x04034b50);
    out.u16(0, flags, 0, 0, 0);
    out.u32(0, 0, 0);
    out.u16(name.length, extra.length);
    out.bytes(name);
    out.bytes(extra);
    out.bytes(record.data);
    if (size > 0) out.u32(0x08074b50, crc, size, size);
    central.push({ name, flags, crc, size, offset });
  }
  const directoryOffset = out.length;
  for (const entry of central) {
    out.u32(0x02014b50);
    out.u16(0, 0, entry.flags, 0, 0, 0);
    out.u32(entry.crc, entry.size, entry.size);
    out.u16(entry.name.length, 0, 0, 0, 0);
    out.u32(0, entry.offset);
    out.bytes(entry.name);
  }
  const directorySize = out.length - directoryOffset;
  const zip64End = out.length;
  if (zip64End > 0xffffffff) throw new CheckpointError('checkpoint too large: the zip writer is limited to 4 GiB');
  out.u32(0x06064b50);
  out.u64(44);
  out.u16(0x031e, 0x002d);
  out.u32(0, 0);
  out.u64(central.length, central.length, directorySize, directoryOffset);
  out.u32(0x07064b50, 0);
  out.u64(zip64End);
  out.u32(1);
  out.u32(0x06054b50);
  const classicCount = Math.min(central.length, 0xffff);
  out.u16(0, 0, classicCount, classicCount);
  out.u32(directorySize, directoryOffset);
  out.u16(0);
  return out.concat();
}
