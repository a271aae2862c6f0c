// The conformance suite, written once and run unchanged in Node, Deno,
// Chromium and workerd. It takes the package namespace as an argument (each
// runtime imports snapgrad its own way) and returns { "case output": hash }.
//
// Every case is data: a name and a function from the package to named
// outputs (tensors or bytes). The runner hashes each output's dtype, shape and
// raw bytes with FNV-1a (32-bit integer arithmetic only), so two runtimes agree
// on a hash exactly when they produced the same bits.

/** Fixed STE input [4, 4]: halves and quarters (rounding ties), ±0, values beyond the ±1 clip, a tie in row 1 for argmax. */
export const STE_INPUT = [
  -2.5, -1.5, -1, -0.75,
  -0.5, -0.25, -0, 0,
  0.25, 0.4999999, 0.5, 0.75,
  1, 1.5, 2.5, 3.25,
];

/** Upstream gradient seed for every backward pass (sum(y * w).backward()). */
const GRAD_SEED = 99;

/** STE ops on the fixed input: forward value and the surrogate gradient of x. */
const STE_OPS = [
  ['ste.sign[identity]', (sg, x) => sg.ste.sign(x, { grad: 'identity' })],
  ['ste.sign[clipped]', (sg, x) => sg.ste.sign(x, { grad: 'clipped' })],
  ['ste.sign[approx]', (sg, x) => sg.ste.sign(x, { grad: 'approx' })],
  ['ste.sign[swish]', (sg, x) => sg.ste.sign(x, { grad: 'swish' })],
  ['ste.binarize[identity]', (sg, x) => sg.ste.binarize(x, { grad: 'identity' })],
  ['ste.binarize[clipped]', (sg, x) => sg.ste.binarize(x, { grad: 'clipped' })],
  ['ste.binarize[approx]', (sg, x) => sg.ste.binarize(x, { grad: 'approx' })],
  ['ste.binarize[swish]', (sg, x) => sg.ste.binarize(x, { grad: 'swish' })],
  ['ste.round', (sg, x) => sg.ste.round(x)],
  ['ste.floor', (sg, x) => sg.ste.floor(x)],
  ['ste.straightThrough[floor]', (sg, x) => sg.ste.straightThrough(x, (v) => sg.floor(v))],
  ['ste.quantize[4 bit signed]', (sg, x) => sg.ste.quantize(x, { bits: 4, scale: 0.5 })],
  ['ste.quantize[3 bit unsigned zp 2]', (sg, x) => sg.ste.quantize(x, { bits: 3, scale: 0.25, zeroPoint: 2, signed: false })],
  ['ste.ternarize[default]', (sg, x) => sg.ste.ternarize(x)],
  ['ste.ternarize[0.5 clipped]', (sg, x) => sg.ste.ternarize(x, { threshold: 0.5, grad: 'clipped' })],
  ['ste.dorefa[2 bit activations]', (sg, x) => sg.ste.dorefa(x, { bits: 2 })],
  ['ste.dorefa[3 bit weights]', (sg, x) => sg.ste.dorefa(x, { bits: 3, mode: 'weights' })],
  ['ste.argmaxOneHot', (sg, x) => sg.ste.argmaxOneHot(x)],
  ['ste.gumbelSoftmax[soft tau 0.5]', (sg, x) => sg.ste.gumbelSoftmax(x, { tau: 0.5, seed: 7 })],
  ['ste.gumbelSoftmax[hard]', (sg, x) => sg.ste.gumbelSoftmax(x, { tau: 1, hard: true, seed: 11 })],
];

/** Differentiable float ops on seeded inputs whose sizes leave a tail in every SIMD loop. */
const FLOAT_OPS = [
  ['exp', (sg) => sg.randn([5, 29], { seed: 201, std: 3 }), (sg, x) => sg.exp(x)],
  ['log', (sg) => sg.rand([5, 29], { seed: 202, low: 0.01, high: 50 }), (sg, x) => sg.log(x)],
  ['tanh', (sg) => sg.randn([5, 29], { seed: 203, std: 4 }), (sg, x) => sg.tanh(x)],
  ['sigmoid', (sg) => sg.randn([5, 29], { seed: 204, std: 6 }), (sg, x) => sg.sigmoid(x)],
  ['softmax', (sg) => sg.randn([7, 13], { seed: 205, std: 5 }), (sg, x) => sg.softmax(x)],
  ['logSoftmax', (sg) => sg.randn([7, 13], { seed: 206, std: 5 }), (sg, x) => sg.logSoftmax(x)],
  ['crossEntropy', (sg) => sg.randn([7, 13], { seed: 207, std: 5 }), (sg, x) => sg.crossEntropy(x, sg.randint([7], 0, 13, { seed: 208 }))],
];

/** Forward and backward of y = op(x): outputs y and dL/dx for L = sum(y * w), w seeded. */
function withGradient(sg, x, op) {
  x.requiresGrad = true;
  const y = op(sg, x);
  sg.mul(y, sg.randn(y.shape, { seed: GRAD_SEED })).sum().backward();
  return { y, dx: x.grad };
}

/** A linear congruential stream of 32-bit integers: test data from integer arithmetic only. */
function* lcg(seed) {
  let s = seed >>> 0 || 1;
  for (;;) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    yield s;
  }
}

/** Seeded int8 tensor covering the full range -128..127. */
function int8(sg, shape, seed) {
  const data = new Int8Array(shape.reduce((a, b) => a * b, 1));
  const next = lcg(seed);
  for (let i = 0; i < data.length; i++) data[i] = (next.next().value >>> 24) - 128;
  return sg.tensor(data, shape, { dtype: 'int8' });
}

/** Seeded per-channel scales or biases in [lo, hi), exact float32 values. */
function floats(n, seed, lo, hi) {
  const out = new Float32Array(n);
  const next = lcg(seed);
  for (let i = 0; i < n; i++) out[i] = lo + ((hi - lo) * (next.next().value >>> 8)) / 16777216;
  return out;
}

/** matmul in all four transpose forms, on a small shape (tails only) and one that spans several tiles. */
function matmulCases() {
  const out = [];
  for (const [M, N, K] of [[7, 13, 37], [67, 45, 130]]) {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const form = `${transposeA ? 'T' : 'N'}${transposeB ? 'T' : 'N'}`;
        out.push({
          name: `matmul[${form} ${M}x${N}x${K}]`,
          run(sg) {
            const a = sg.randn(transposeA ? [K, M] : [M, K], { seed: M + K });
            const b = sg.randn(transposeB ? [N, K] : [K, N], { seed: N + K + 1 });
            a.requiresGrad = true;
            b.requiresGrad = true;
            const c = sg.matmul(a, b, { transposeA, transposeB });
            sg.mul(c, sg.randn(c.shape, { seed: GRAD_SEED })).sum().backward();
            return { c, da: a.grad, db: b.grad };
          },
        });
      }
    }
  }
  return out;
}

const KERNEL_CASES = [
  { name: 'packBits[5x133]', run: (sg) => ({ bits: sg.packBits(sg.randn([5, 133], { seed: 301 })) }) },
  { name: 'packBits[3x128 with zeros]', run: (sg) => ({ bits: sg.packBits(sg.round(sg.randn([3, 128], { seed: 302 }))) }) },
  {
    name: 'binaryMatmul[9x11 k300]',
    run: (sg) => ({ c: sg.binaryMatmul(sg.packBits(sg.randn([9, 300], { seed: 303 })), sg.packBits(sg.randn([11, 300], { seed: 304 })), 300) }),
  },
  {
    name: 'binaryMatmul[20x17 k1000]',
    run: (sg) => ({ c: sg.binaryMatmul(sg.packBits(sg.randn([20, 1000], { seed: 305 })), sg.packBits(sg.randn([17, 1000], { seed: 306 })), 1000) }),
  },
  {
    name: 'binaryMatmulScaled[9x11 k300]',
    run: (sg) => ({
      c: sg.binaryMatmulScaled(sg.packBits(sg.randn([9, 300], { seed: 307 })), sg.packBits(sg.randn([11, 300], { seed: 308 })), 300, {
        scale: floats(11, 309, 0.01, 0.2),
        bias: floats(11, 310, -1, 1),
      }),
    }),
  },
  {
    name: 'binaryWeightsMatmul[6x10 k200]',
    run: (sg) => ({
      c: sg.binaryWeightsMatmul(sg.randn([6, 200], { seed: 311 }), sg.packBits(sg.randn([10, 200], { seed: 312 })), {
        scale: floats(10, 313, 0.01, 0.2),
        bias: 0.5,
      }),
    }),
  },
  {
    // 5 x 35 channels (two full 16-channel blocks and a partial one); float32 pixels take the checking path.
    name: 'uint8BinaryMatmul[5x35 k790]',
    run: (sg) => {
      const bits = sg.packBits(sg.randn([35, 790], { seed: 315 }));
      const x = sg.tensor(new Uint8Array(int8(sg, [5, 790], 316).dataSync().buffer), [5, 790], { dtype: 'uint8' });
      return { c: sg.uint8BinaryMatmul(x, bits), cFromFloat: sg.uint8BinaryMatmul(sg.cast(x, 'float32'), bits) };
    },
  },
  { name: 'int8Matmul[7x11 k45]', run: (sg) => ({ c: sg.int8Matmul(int8(sg, [7, 45], 321), int8(sg, [45, 11], 322)) }) },
  { name: 'int8Matmul[transposeB 19x23 k133]', run: (sg) => ({ c: sg.int8Matmul(int8(sg, [19, 133], 323), int8(sg, [23, 133], 324), { transposeB: true }) }) },
  {
    name: 'int8MatmulDequantize[7x11 k45]',
    run: (sg) => ({
      c: sg.int8MatmulDequantize(int8(sg, [7, 45], 325), int8(sg, [11, 45], 326), {
        transposeB: true, scaleA: 0.02, scaleB: floats(11, 327, 0.001, 0.05), bias: floats(11, 328, -1, 1),
      }),
    }),
  },
  {
    name: 'int8MatmulRequantize[7x11 k45]',
    run: (sg) => ({
      c: sg.int8MatmulRequantize(int8(sg, [7, 45], 329), int8(sg, [45, 11], 330), {
        scaleA: 0.02, scaleB: 0.01, scaleOut: 0.5, bias: floats(11, 331, -2, 2),
      }),
    }),
  },
  { name: 'quantizeInt8[per tensor]', run: (sg) => ({ q: sg.quantizeInt8(sg.randn([5, 29], { seed: 341, std: 3 }), { scale: 0.05 }) }) },
  { name: 'quantizeInt8[per channel]', run: (sg) => ({ q: sg.quantizeInt8(sg.randn([5, 29], { seed: 342 }), { scale: floats(5, 343, 0.005, 0.02) }) }) },
  { name: 'quantizeInt8[uint8 zp 128]', run: (sg) => ({ q: sg.quantizeInt8(sg.randn([5, 29], { seed: 344 }), { scale: 0.02, zeroPoint: 128, dtype: 'uint8' }) }) },
  { name: 'dequantizeInt8[per channel]', run: (sg) => ({ x: sg.dequantizeInt8(int8(sg, [5, 29], 345), { scale: floats(5, 346, 0.005, 0.02), zeroPoint: [0, 1, -2, 3, -4] }) }) },
  {
    name: 'int8Scales',
    run: (sg) => {
      const x = sg.randn([6, 31], { seed: 347 });
      return { perTensor: sg.int8Scales(x), perChannel: sg.int8Scales(x, { perChannel: true }) };
    },
  },
  {
    name: 'vqNearest[50x7 k19, duplicate codes]',
    run: (sg) => {
      const c = sg.randn([19, 7], { seed: 351 });
      // Repeated rows make exact ties: the lowest index must win everywhere.
      const codebook = sg.concat([c, sg.slice(c, [0, 0], [5, 7])], 0);
      const z = sg.concat([sg.randn([45, 7], { seed: 352 }), sg.slice(c, [0, 0], [5, 7])], 0);
      return { indices: sg.vqNearest(z, codebook) };
    },
  },
];

/** ste.vq forward (zq, indices, both losses) and the gradients reaching z and the codebook. */
const VQ_CASE = {
  name: 'ste.vq',
  run(sg) {
    const z = sg.randn([9, 4], { seed: 361, requiresGrad: true });
    const codebook = sg.randn([6, 4], { seed: 362, requiresGrad: true });
    const { zq, indices, commitmentLoss, codebookLoss } = sg.ste.vq(z, codebook, { beta: 0.25 });
    const task = sg.mul(zq, sg.randn(zq.shape, { seed: GRAD_SEED })).sum();
    sg.add(sg.add(task, commitmentLoss), codebookLoss).backward();
    return { zq, indices, commitmentLoss, codebookLoss, dz: z.grad, dcodebook: codebook.grad };
  },
};

/**
 * Five Adam steps of a small BNN (BinaryLinear + BatchNorm1d + Binarize) on
 * seeded integer "pixels", then freeze and predict: every step's loss, the
 * trained parameters and buffers, the eval logits, the frozen model's
 * predictions and its serialized bytes.
 */
const BNN_CASE = {
  name: 'bnn',
  run(sg) {
    const { nn, optim } = sg;
    const x = sg.keep(sg.cast(sg.randint([64, 48], 0, 256, { seed: 401 }), 'float32'));
    const labels = sg.keep(sg.randint([64], 0, 4, { seed: 402 }));
    const model = new nn.Sequential(
      new nn.BinaryLinear(48, 32, { binarizeInputs: false, seed: 403 }),
      new nn.BatchNorm1d(32),
      new nn.Binarize({ grad: 'clipped' }),
      new nn.BinaryLinear(32, 4, { seed: 404 }),
      new nn.BatchNorm1d(4),
    );
    const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
    const losses = [];
    for (let step = 0; step < 5; step++) {
      losses.push(sg.tidy(() => {
        const loss = sg.crossEntropy(model.forward(x), labels);
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        return loss.dataSync().slice();
      }));
    }
    model.eval();
    const outputs = { losses: sg.tensor(concatFloats(losses), [losses.length]) };
    for (const [name, t] of Object.entries(model.stateDict())) outputs[`state.${name}`] = t;
    outputs.logits = sg.noGrad(() => model.forward(x));
    const frozen = sg.freeze(model, { integerInputMax: 255 });
    outputs.frozenLogits = frozen.predict(x);
    const { tensors, metadata } = frozen.state();
    outputs.frozenSafetensors = sg.io.saveSafetensors(tensors, metadata);
    return {
      outputs,
      cleanup() {
        frozen.dispose();
        optimizer.dispose();
        model.dispose();
        x.dispose();
        labels.dispose();
      },
    };
  },
};

function concatFloats(parts) {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Every case: { name, run(sg) -> { output: Tensor | Uint8Array } | { outputs, cleanup } }. */
export const CASES = [
  ...STE_OPS.map(([name, op]) => ({ name, run: (sg) => withGradient(sg, sg.tensor(STE_INPUT, [4, 4]), op) })),
  VQ_CASE,
  ...FLOAT_OPS.map(([name, input, op]) => ({ name, run: (sg) => withGradient(sg, input(sg), op) })),
  ...matmulCases(),
  ...KERNEL_CASES,
  BNN_CASE,
];

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnv1a(h, bytes) {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return h;
}

function asciiBytes(s) {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** FNV-1a of "dtype[shape]" followed by the raw little-endian bytes, as 8 hex digits. */
export function hashOutput(value) {
  let header;
  let bytes;
  if (value instanceof Uint8Array) {
    header = `bytes[${value.length}]`;
    bytes = value;
  } else if (value && typeof value.dataSync === 'function') {
    header = `${value.dtype}[${value.shape.join(',')}]`;
    const data = value.dataSync();
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    throw new Error(`conformance: cannot hash ${Object.prototype.toString.call(value)}`);
  }
  const h = fnv1a(fnv1a(FNV_OFFSET, asciiBytes(header)), bytes);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Runs every case and returns { "case output": hash }. A case that throws
 * reports "error: message" instead, so a runtime-specific failure shows up as
 * a named mismatch rather than aborting the suite.
 */
export function runConformance(sg, cases = CASES) {
  const hashes = {};
  for (const c of cases) {
    try {
      sg.tidy(() => {
        const result = c.run(sg);
        const outputs = result.cleanup ? result.outputs : result;
        try {
          for (const [name, value] of Object.entries(outputs)) hashes[`${c.name} ${name}`] = hashOutput(value);
        } finally {
          if (result.cleanup) result.cleanup();
        }
      });
    } catch (err) {
      hashes[c.name] = `error: ${err && err.message ? err.message : String(err)}`;
    }
  }
  return hashes;
}
