// The suite as a Cloudflare Worker. The wasm is imported as a module (the
// only way workerd instantiates wasm) and handed to init({ module }).
//   GET /                      -> { runtime, hashes }
//   GET /init-without-options  -> the error init() gives without a module
//   POST /init-with-bytes      -> the error init({ wasm: <posted bytes> }) gives
import * as sg from 'snapgrad';
import wasm from 'snapgrad/wasm';
import { runConformance } from './cases.mjs';

async function initError(options) {
  try {
    await sg.init(options);
  } catch (err) {
    return new Response(String(err && err.message), { status: 500 });
  }
  return new Response('init succeeded', { status: 200 });
}

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/init-without-options') return initError(undefined);
    if (pathname === '/init-with-bytes') return initError({ wasm: new Uint8Array(await request.arrayBuffer()) });
    const info = await sg.init({ module: wasm });
    return Response.json({ runtime: info.runtime, hashes: runConformance(sg) });
  },
};
