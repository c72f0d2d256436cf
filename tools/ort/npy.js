'use strict';
// Minimal .npy reader/writer (format versions 1.0/2.0/3.0 read, 1.0 written).
// Only C-order, little-endian (or single-byte) arrays are supported.
const fs = require('fs');

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// numpy descr -> [ort tensor type, TypedArray constructor, element size]
const DESCR = {
  '<f4': ['float32', Float32Array, 4],
  '<f8': ['float64', Float64Array, 8],
  '<i8': ['int64', BigInt64Array, 8],
  '<u8': ['uint64', BigUint64Array, 8],
  '<i4': ['int32', Int32Array, 4],
  '<u4': ['uint32', Uint32Array, 4],
  '<i2': ['int16', Int16Array, 2],
  '<u2': ['uint16', Uint16Array, 2],
  '<f2': ['float16', Uint16Array, 2],
  '|i1': ['int8', Int8Array, 1],
  '|u1': ['uint8', Uint8Array, 1],
  '|b1': ['bool', Uint8Array, 1],
};
// ort tensor type -> numpy descr
const TYPE_TO_DESCR = {};
for (const [d, [t]] of Object.entries(DESCR)) TYPE_TO_DESCR[t] = d;

function parseHeader(text) {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw new Error(`npy: cannot parse header: ${text}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    const v = Number.parseInt(s, 10);
    if (!Number.isFinite(v) || v < 0) throw new Error(`npy: bad dimension '${s}'`);
    return v;
  });
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims };
}

/** Reads a .npy file. Returns {type, data (TypedArray), shape}. */
function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error(`npy: ${path}: not a .npy file`);
  const major = buf[6];
  let headerLen;
  let offset;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    headerLen = buf.readUInt32LE(8);
    offset = 12;
  } else {
    throw new Error(`npy: ${path}: unsupported format version ${major}.${buf[7]}`);
  }
  const header = parseHeader(buf.subarray(offset, offset + headerLen).toString(major === 3 ? 'utf8' : 'latin1'));
  if (header.fortranOrder) throw new Error(`npy: ${path}: Fortran-order arrays are not supported`);
  const info = DESCR[header.descr === '<b1' ? '|b1' : header.descr];
  if (!info) throw new Error(`npy: ${path}: unsupported dtype '${header.descr}'`);
  const [type, Ctor, size] = info;
  const count = header.shape.reduce((a, b) => a * b, 1);
  const start = offset + headerLen;
  if (buf.length - start < count * size) throw new Error(`npy: ${path}: file truncated (${buf.length - start} < ${count * size} bytes)`);
  // Copy into a fresh, aligned ArrayBuffer.
  const ab = new ArrayBuffer(count * size);
  new Uint8Array(ab).set(buf.subarray(start, start + count * size));
  let data = new Ctor(ab);
  if (type === 'bool') data = Uint8Array.from(data, (v) => (v ? 1 : 0));
  return { type, data, shape: header.shape };
}

/** Writes a .npy (format 1.0). `type` is an ORT tensor type name, data a TypedArray. */
function writeNpy(path, type, data, shape) {
  const descr = TYPE_TO_DESCR[type];
  if (!descr) throw new Error(`npy: cannot write tensor type '${type}'`);
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // Pad so that magic(6)+version(2)+len(2)+header is a multiple of 64, header ends with '\n'.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  if (header.length > 65535) throw new Error('npy: header too long');
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

module.exports = { readNpy, writeNpy };
