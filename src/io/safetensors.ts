// safetensors: 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the
// tensor bytes. Read with every field checked; the header is at most MAX_HEADER
// bytes on both sides. Tensors are F32, or BF16 (the upper halves of float32
// values, rounded to nearest even: half the bytes), read into float32 either way.
import { InputError } from '../errors.js';
import { fromBf16Bits, toBf16Bits } from '../nn/bf16.js';
import { show } from '../validate.js';

/** How a tensor is stored: float32, or bfloat16. */
export type Dtype = 'F32' | 'BF16';
const DTYPE_BYTES: Record<Dtype, number> = { F32: 4, BF16: 2 };

export interface Tensor {
  shape: number[];
  data: Float32Array;
  /** Stored as (written) or read from; absent: F32. */
  dtype?: Dtype;
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/**
 * The largest header either side accepts: the safetensors reference
 * implementation's limit (100,000,000 bytes), so that every file written here
 * also loads in PyTorch's safetensors.
 */
export const MAX_HEADER = 100_000_000;

/** A header too large for the format: nothing is written. */
export class HeaderTooLargeError extends Error {
  override readonly name = 'HeaderTooLargeError';
}

/** The header JSON (padded to 8 bytes) of tensors with these shapes and metadata, and the data length. */
function encodeHeader(tensors: Map<string, { shape: number[]; dtype?: Dtype }>, metadata: Record<string, string>): { json: string; dataBytes: number } {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const dtype = t.dtype ?? 'F32';
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  return { json, dataBytes: offset };
}

/** Bytes of the header a file of these tensors (by shape) and metadata would have. */
export function headerBytes(tensors: Map<string, { shape: number[]; dtype?: Dtype }>, metadata: Record<string, string>): number {
  return Buffer.byteLength(encodeHeader(tensors, metadata).json);
}

export function encodeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string>): Buffer {
  for (const [name, t] of tensors) {
    if (t.shape.reduce((a, b) => a * b, 1) !== t.data.length) throw new Error(`tensor ${show(name)} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
  }
  const { json, dataBytes: offset } = encodeHeader(tensors, metadata);
  const headerBytes = Buffer.from(json, 'utf8');
  if (headerBytes.length > MAX_HEADER) {
    throw new HeaderTooLargeError(`its header would be ${headerBytes.length} bytes, more than the format's limit of ${MAX_HEADER}`);
  }
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    if (t.dtype === 'BF16') {
      const bits = toBf16Bits(t.data);
      for (let i = 0; i < bits.length; i++) out.writeUInt16LE(bits[i]!, pos + i * 2);
      pos += bits.length * 2;
      continue;
    }
    const src = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (isLittleEndian()) src.copy(out, pos);
    else for (let i = 0; i < t.data.length; i++) out.writeFloatLE(t.data[i]!, pos + i * 4);
    pos += t.data.byteLength;
  }
  return out;
}

/**
 * The header's length from a file's first 8 bytes (`start`, at least those
 * of them that exist), checked against the format's limit and the file's
 * `size`; a problem is an Error from `fail`.
 */
export function checkHeaderLength(start: Buffer, size: number, fail: (what: string) => Error): number {
  if (size < 8 || start.length < 8) throw fail(`it has ${size} bytes, fewer than the 8-byte header length`);
  const n = start.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER)) throw fail(`the header length ${n} exceeds the format's limit of ${MAX_HEADER} bytes`);
  if (n > BigInt(size - 8)) throw fail(`the header length ${n} exceeds the file's ${size - 8} remaining bytes`);
  return Number(n);
}

/** The header's JSON object, from its bytes; a problem is an Error from `fail`. */
export function parseHeader(bytes: Buffer, fail: (what: string) => Error): Record<string, unknown> {
  let text: string;
  try {
    // (safetensors' header is UTF-8 JSON: a byte that is no UTF-8 is refused, not read as U+FFFD)
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw fail('the header is not UTF-8 text');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    throw fail('the header is not JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw fail('the header is not a JSON object');
  return header as Record<string, unknown>;
}

export function decodeSafetensors(buf: Buffer, label: string): SafetensorsFile {
  const fail = (what: string) => new InputError(`${label} is not a valid safetensors file: ${what}`);
  const headerLen = checkHeaderLength(buf, buf.length, fail);
  const header = parseHeader(buf.subarray(8, 8 + headerLen), fail);
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string, number[], Dtype][] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!v || typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
        throw fail('__metadata__ must map strings to strings');
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (!e || typeof e !== 'object') throw fail(`entry ${show(name)} is not an object`);
    if (e.dtype !== 'F32' && e.dtype !== 'BF16') throw fail(`tensor ${show(name)} has dtype ${show(e.dtype)}, only F32 and BF16 are supported`);
    const dtype: Dtype = e.dtype;
    const size = DTYPE_BYTES[dtype];
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw fail(`tensor ${show(name)} has an invalid shape`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw fail(`tensor ${show(name)} has invalid data_offsets`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end || end > dataLen) throw fail(`tensor ${show(name)} spans bytes ${begin}..${end}, outside the ${dataLen} data bytes`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if ((end - begin) !== count * size) {
      throw fail(`tensor ${show(name)} of shape [${shape.join(', ')}] needs ${count * size} bytes as ${dtype}, its offsets give ${end - begin}`);
    }
    spans.push([begin, end, name, shape as number[], dtype]);
  }
  // The layout is checked whole before any tensor is copied: before, a header of a thousand entries all on
  // the same 4 MB made 4 GB of copies, and only then was refused as overlapping.
  spans.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  for (const [begin, end, name] of spans) {
    if (begin < covered) throw fail(`tensor ${show(name)} overlaps the one before it`);
    if (begin > covered) throw fail(`bytes ${covered}..${begin} of the data belong to no tensor`);
    covered = end;
  }
  if (covered !== dataLen) throw fail(`the file has ${dataLen - covered} bytes after the last tensor`);
  for (const [begin, end, name, shape, dtype] of spans) {
    const bytes = buf.subarray(dataStart + begin, dataStart + end);
    const count = (end - begin) / DTYPE_BYTES[dtype];
    let data: Float32Array;
    if (dtype === 'BF16') {
      const bits = new Uint16Array(count);
      for (let i = 0; i < count; i++) bits[i] = bytes.readUInt16LE(i * 2);
      data = fromBf16Bits(bits);
    } else {
      data = new Float32Array(count);
      if (isLittleEndian()) new Uint8Array(data.buffer).set(bytes);
      else for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(i * 4);
    }
    tensors.set(name, { shape, data, dtype });
  }
  return { tensors, metadata };
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
