import { describe } from '../tensor/checks.js';

/** PNG encoding with the platform's CompressionStream('deflate') (Node 18+, Deno, browsers, workerd), so no zlib is bundled. */

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

async function zlibDeflate(raw: Uint8Array): Promise<Uint8Array> {
  // 'deflate' is the zlib format (RFC 1950) that PNG's IDAT holds.
  const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const COLOR_TYPE: Record<number, number> = { 1: 0, 3: 2, 4: 6 };

/**
 * Encodes 8-bit pixels (row-major, `channels` bytes per pixel: 1 gray, 3 RGB,
 * 4 RGBA) as PNG bytes. Throws where the runtime has no CompressionStream.
 */
export async function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4 = 1): Promise<Uint8Array> {
  const op = 'encodePng';
  if (!(pixels instanceof Uint8Array)) throw new Error(`${op}: pixels must be a Uint8Array, got ${describe(pixels)}`);
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 2 ** 15) throw new Error(`${op}: ${name} must be an integer in [1, 32768], got ${describe(v)}`);
  }
  if (!(channels in COLOR_TYPE)) throw new Error(`${op}: channels must be 1 (gray), 3 (RGB) or 4 (RGBA), got ${describe(channels)}`);
  if (pixels.length !== width * height * channels) {
    throw new Error(`${op}: pixels has ${pixels.length} bytes, but ${width} x ${height} x ${channels} channels needs ${width * height * channels}`);
  }
  if (typeof CompressionStream !== 'function') throw new Error(`${op}: this runtime has no CompressionStream, so it cannot encode PNG; write the SVG instead`);
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header.set([8, COLOR_TYPE[channels], 0, 0, 0], 8); // 8 bits, color type, deflate, filter 0, no interlace
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', await zlibDeflate(raw)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
