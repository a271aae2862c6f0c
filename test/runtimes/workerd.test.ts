// Cloudflare workerd through Miniflare (cf: false: nothing reaches the
// network). Workers are bundled as wrangler does it — esbuild with the
// workerd/worker/browser conditions, *.wasm imports kept as separate modules
// that workerd compiles (CompiledWasm) — from the npm-packed package.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as esbuild from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DIST_URL, expectSameHashes, nodeHashes, packedProject, ROOT, since, type PackedProject, type SuiteResult } from './support.js';

const COMPATIBILITY_DATE = '2026-04-01';

/**
 * Bundles a Worker into outDir/worker.js. Imports of *.wasm (including
 * 'snapgrad/wasm', resolved through the package's exports map) and of the
 * given data extensions stay imports of files copied next to the bundle.
 */
async function bundleWorker(entry: string, outDir: string, nodeModules: string, dataExtensions: string[] = []): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const separate = new RegExp(`(\\.wasm|^snapgrad/wasm|${dataExtensions.map((e) => `\\${e}`).join('|') || '\\.wasm'})$`);
  const modules: esbuild.Plugin = {
    name: 'separate-modules',
    setup(build) {
      build.onResolve({ filter: separate }, async (args) => {
        if (args.pluginData?.resolving) return undefined;
        const r = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: { resolving: true } });
        if (r.errors.length > 0) return { errors: r.errors };
        copyFileSync(r.path, join(outDir, basename(r.path)));
        return { path: `./${basename(r.path)}`, external: true };
      });
    },
  };
  await esbuild.build({
    entryPoints: [entry],
    outfile: join(outDir, 'worker.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    nodePaths: [nodeModules],
    plugins: [modules],
    logLevel: 'silent',
  });
}

function startWorker(dir: string): Miniflare {
  return new Miniflare({
    scriptPath: join(dir, 'worker.js'),
    modulesRoot: dir,
    modules: true,
    modulesRules: [
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
      { type: 'Data', include: ['**/*.safetensors'] },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    cf: false,
  });
}

/** The first n MNIST test images (uint8 pixels, 784 per image) and their labels, read by snapgrad in Node. */
async function mnistTestImages(sg: any, n: number): Promise<{ pixels: Uint8Array; truth: number[] }> {
  await sg.init();
  const mnist = join(ROOT, 'examples/data/mnist');
  const images = await sg.io.loadIdx(join(mnist, 't10k-images-idx3-ubyte.gz'));
  const labels = await sg.io.loadIdx(join(mnist, 't10k-labels-idx1-ubyte.gz'));
  const out = { pixels: images.dataSync().slice(0, n * 784) as Uint8Array, truth: Array.from(labels.dataSync().slice(0, n) as Uint8Array) };
  images.dispose();
  labels.dispose();
  return out;
}

describe('Cloudflare workerd (Miniflare)', () => {
  let project: PackedProject;
  let suite: Miniflare;
  let startMs = 0;
  beforeAll(async () => {
    const start = performance.now();
    project = packedProject('workerd');
    await bundleWorker(join(project.dir, 'worker.mjs'), join(project.dir, 'conformance-worker'), join(project.dir, 'node_modules'));
    suite = startWorker(join(project.dir, 'conformance-worker'));
    await suite.ready;
    startMs = since(start);
  });
  afterAll(async () => {
    await suite?.dispose();
    project?.cleanup();
  });

  // Before any successful init (which would make later calls no-ops).
  test('init() without options explains that Workers need init({ module }) with the imported wasm', async () => {
    const res = await suite.dispatchFetch('http://worker/init-without-options');
    const text = await res.text();
    expect(res.status, text).toBe(500);
    expect(text).toContain('init: in Cloudflare Workers init() needs the wasm module');
    expect(text).toContain("import wasm from 'snapgrad/wasm'; await init({ module: wasm })");
  });

  test('init({ wasm: bytes }) explains that Workers cannot compile wasm from bytes and what to do instead', async () => {
    const res = await suite.dispatchFetch('http://worker/init-with-bytes', { method: 'POST', body: readFileSync(join(ROOT, 'dist/snapgrad.simd.wasm')) });
    const text = await res.text();
    expect(res.status, text).toBe(500);
    expect(text).toContain('init: this runtime cannot compile WebAssembly from bytes or a Response');
    expect(text).toContain("import wasm from 'snapgrad/wasm'; await init({ module: wasm })");
    expect(text).toMatch(/Original error: .*disallowed by embedder/);
  });

  test("the conformance suite with init({ module }) gives Node's hashes", async () => {
    const start = performance.now();
    const res = await suite.dispatchFetch('http://worker/');
    expect(res.status).toBe(200);
    const result = (await res.json()) as SuiteResult;
    expect(result.runtime).toBe('workerd');
    expectSameHashes('workerd', result, await nodeHashes());
    console.log(`workerd: bundle + Miniflare start ${startMs} ms, conformance request ${since(start)} ms`);
  });

  test('examples/cloudflare-worker classifies 100 posted MNIST test images like Node does, and rejects a bad body', async () => {
    const start = performance.now();
    const dir = join(project.dir, 'example-worker');
    await bundleWorker(join(ROOT, 'examples/cloudflare-worker/worker.js'), dir, join(project.dir, 'node_modules'), ['.safetensors']);
    const mf = startWorker(dir);
    try {
      const sg = await import(/* @vite-ignore */ DIST_URL);
      const n = 100;
      const { pixels, truth } = await mnistTestImages(sg, n);

      // Node: the same frozen model file, the same images.
      const { tensors, metadata } = await sg.io.loadSafetensors(join(ROOT, 'examples/cloudflare-worker/model.safetensors'));
      const model = sg.FrozenModel.fromState(tensors, metadata);
      const nodeDigits: number[] = sg.tidy(() => Array.from(sg.argmax(model.predict(sg.tensor(Float32Array.from(pixels), [n, 784])), { axis: 1 }).dataSync()));
      model.dispose();

      const workerDigits: number[] = [];
      for (let i = 0; i < n; i++) {
        const res = await mf.dispatchFetch('http://worker/', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: pixels.slice(i * 784, (i + 1) * 784) });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { predictions: { digit: number; logits: number[] }[] };
        expect(body.predictions).toHaveLength(1);
        expect(body.predictions[0].logits).toHaveLength(10);
        workerDigits.push(body.predictions[0].digit);
      }
      const correct = workerDigits.filter((d, i) => d === truth[i]).length;
      expect(correct).toBeGreaterThanOrEqual(90);
      expect(workerDigits).toEqual(nodeDigits);

      // JSON body with a batch of two images gives the same digits.
      const json = { pixels: [Array.from(pixels.slice(0, 784)), Array.from(pixels.slice(784, 1568))] };
      const batch = await mf.dispatchFetch('http://worker/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });
      expect(((await batch.json()) as any).predictions.map((p: { digit: number }) => p.digit)).toEqual(workerDigits.slice(0, 2));

      const bad = await mf.dispatchFetch('http://worker/', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(100) });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as any).error).toBe('the body must be N x 784 bytes (28x28 grayscale images), got 100 bytes');
      console.log(`workerd: example worker ${correct}/${n} correct, identical to Node, in ${since(start)} ms`);
    } finally {
      await mf.dispose();
    }
  });

  test('examples/cloudflare-worker serves the frozen binary CNN at /conv: 100 posted MNIST test images classified like Node does', async () => {
    const start = performance.now();
    const dir = join(project.dir, 'example-worker-conv');
    await bundleWorker(join(ROOT, 'examples/cloudflare-worker/worker.js'), dir, join(project.dir, 'node_modules'), ['.safetensors']);
    const mf = startWorker(dir);
    try {
      const sg = await import(/* @vite-ignore */ DIST_URL);
      const n = 100;
      const { pixels, truth } = await mnistTestImages(sg, n);

      // Node: the same frozen conv model file on NHWC uint8 images.
      const { tensors, metadata } = await sg.io.loadSafetensors(join(ROOT, 'examples/cloudflare-worker/model-conv.safetensors'));
      const model = sg.FrozenModel.fromState(tensors, metadata);
      expect(model.stages.map((s: { type: string }) => s.type)).toEqual(['binary-conv2d', 'binary-conv2d', 'flatten', 'binary-dense']);
      const nodeDigits: number[] = sg.tidy(() => Array.from(sg.argmax(model.predict(sg.tensor(pixels, [n, 28, 28, 1], { dtype: 'uint8' })), { axis: 1 }).dataSync()));
      model.dispose();

      // one request with all 100 images, and single images
      const all = await mf.dispatchFetch('http://worker/conv', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: pixels });
      expect(all.status).toBe(200);
      const workerDigits = ((await all.json()) as { predictions: { digit: number }[] }).predictions.map((p) => p.digit);
      expect(workerDigits).toEqual(nodeDigits);
      for (const i of [0, 1, 99]) {
        const one = await mf.dispatchFetch('http://worker/conv', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pixels: Array.from(pixels.slice(i * 784, (i + 1) * 784)) }) });
        expect(((await one.json()) as any).predictions[0].digit).toBe(nodeDigits[i]);
      }
      const correct = workerDigits.filter((d, i) => d === truth[i]).length;
      expect(correct).toBeGreaterThanOrEqual(90);
      const missing = await mf.dispatchFetch('http://worker/nowhere', { method: 'POST', body: pixels.slice(0, 784) });
      expect(missing.status).toBe(404);
      console.log(`workerd: example worker /conv ${correct}/${n} correct, identical to Node, in ${since(start)} ms`);
    } finally {
      await mf.dispose();
    }
  });
});
