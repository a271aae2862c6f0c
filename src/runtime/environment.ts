/** Which JavaScript runtime we are in, decided by feature tests, never by user agent sniffing alone. */
export type RuntimeName = 'node' | 'deno' | 'browser' | 'workerd' | 'unknown';

export function detectRuntime(): RuntimeName {
  const g = globalThis as any;
  if (typeof g.Deno !== 'undefined' && g.Deno?.version?.deno) return 'deno';
  if (typeof g.navigator !== 'undefined' && g.navigator.userAgent === 'Cloudflare-Workers') return 'workerd';
  if (typeof g.process !== 'undefined' && g.process.versions?.node && typeof g.window === 'undefined') return 'node';
  if (typeof g.window !== 'undefined' || typeof g.importScripts === 'function') return 'browser';
  return 'unknown';
}

// The smallest module that uses a v128 instruction: (func (result v128) v128.const 0).
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00, 0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b,
]);

export function hasSimd(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}
