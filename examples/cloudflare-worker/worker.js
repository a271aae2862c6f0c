// A Cloudflare Worker that classifies handwritten digits with frozen binary
// networks: POST / runs a binary MLP (model.safetensors, 784-256-256-10, ±1
// weights, ~41 kB); POST /conv runs a binary CNN (model-conv.safetensors, two
// 3x3 binary convs with max-pools on packed bits, ~4 kB; train-conv.mjs).
//
// POST / or /conv with either
//   Content-Type: application/octet-stream   N x 784 bytes: 28x28 grayscale images, row-major,
//                                            0 = background, 255 = ink (the MNIST convention)
//   Content-Type: application/json           { "pixels": [784 numbers 0..255] } or { "pixels": [[784], ...] }
// answers { "predictions": [{ "digit": 7, "logits": [10 numbers] }, ...] }, one per image.
import * as sg from 'snapgrad';
// Workers cannot compile wasm from bytes: the module is compiled at deploy
// time by importing it (wrangler's CompiledWasm rule for *.wasm).
import wasm from 'snapgrad/wasm';
// Bundled as ArrayBuffers by the Data rule in wrangler.toml.
import modelBytes from './model.safetensors';
import convModelBytes from './model-conv.safetensors';

const PIXELS = 784;
/** Each route's model file and the input shape it takes: flat rows, or NHWC images. */
const MODELS = {
  '/': { bytes: modelBytes, name: 'model.safetensors', shape: (n) => [n, PIXELS] },
  '/conv': { bytes: convModelBytes, name: 'model-conv.safetensors', shape: (n) => [n, 28, 28, 1] },
};
const loaded = new Map();

function loadModel(path) {
  if (!loaded.has(path)) {
    loaded.set(path, (async () => {
      await sg.init({ module: wasm });
      const { bytes, name } = MODELS[path];
      const { tensors, metadata } = sg.io.parseSafetensors(new Uint8Array(bytes), name);
      return sg.FrozenModel.fromState(tensors, metadata);
    })());
  }
  return loaded.get(path);
}

class BadRequest extends Error {}

/** The posted images as a Uint8Array of N x 784 pixel values (raw bytes, as the model takes them). */
async function readImages(request) {
  const type = request.headers.get('content-type') ?? '';
  if (type.startsWith('application/json')) {
    let body;
    try {
      body = await request.json();
    } catch {
      throw new BadRequest('the body is not valid JSON');
    }
    const pixels = body?.pixels;
    const rows = Array.isArray(pixels?.[0]) ? pixels : [pixels];
    if (!Array.isArray(pixels) || rows.some((r) => !Array.isArray(r) || r.length !== PIXELS)) {
      throw new BadRequest(`"pixels" must be an array of ${PIXELS} numbers (one 28x28 image) or an array of such arrays`);
    }
    const flat = rows.flat();
    if (flat.some((v) => !Number.isInteger(v) || v < 0 || v > 255)) throw new BadRequest('every pixel must be an integer in [0, 255]');
    return Uint8Array.from(flat);
  }
  if (type === '' || type.startsWith('application/octet-stream')) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.length === 0 || bytes.length % PIXELS !== 0) {
      throw new BadRequest(`the body must be N x ${PIXELS} bytes (28x28 grayscale images), got ${bytes.length} bytes`);
    }
    return bytes;
  }
  throw new BadRequest(`unsupported Content-Type ${type}; use application/octet-stream or application/json`);
}

export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (!Object.prototype.hasOwnProperty.call(MODELS, path)) return Response.json({ error: `no route ${path}; POST to / (binary MLP) or /conv (binary CNN)` }, { status: 404 });
    if (request.method === 'GET') {
      return new Response(`POST 28x28 grayscale images (N x ${PIXELS} bytes, or JSON {"pixels": [...]}) to / (binary MLP) or /conv (binary CNN) to classify them as digits.\n`);
    }
    if (request.method !== 'POST') return new Response('use POST', { status: 405, headers: { allow: 'GET, POST' } });
    let images;
    try {
      images = await readImages(request);
    } catch (err) {
      if (err instanceof BadRequest) return Response.json({ error: err.message }, { status: 400 });
      throw err;
    }
    const model = await loadModel(path);
    const n = images.length / PIXELS;
    // Both models were frozen with uint8 inputs: the bytes go in as they are, no float copy.
    const logits = sg.tidy(() => model.predict(sg.tensor(images, MODELS[path].shape(n), { dtype: 'uint8' })).dataSync().slice());
    const predictions = [];
    for (let i = 0; i < n; i++) {
      const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
      let digit = 0;
      for (let d = 1; d < 10; d++) if (row[d] > row[digit]) digit = d;
      predictions.push({ digit, logits: row });
    }
    return Response.json({ predictions });
  },
};
