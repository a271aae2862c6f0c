// Tiny ONNX models for the onnxruntime-web peers, encoded here as protobuf
// (ModelProto, opset 10+), and onnxruntime-web loaded single-threaded from
// node_modules.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const enc = new TextEncoder();

function varint(n) {
  const out = [];
  for (let v = BigInt(n); ; ) {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
    if (v === 0n) return out;
  }
}
const field = (num, wire) => varint(num * 8 + wire);
const pbInt = (num, n) => [...field(num, 0), ...varint(n)];
const pbBytes = (num, b) => [...field(num, 2), ...varint(b.length), ...b];
const pbStr = (num, s) => pbBytes(num, [...enc.encode(s)]);

/** TensorProto.DataType codes. */
const ELEM = { float32: 1, uint8: 2, int8: 3, int32: 6 };

function valueInfo(name, elem, dims) {
  const shape = dims.flatMap((d) => pbBytes(1, pbInt(1, d)));
  return [...pbStr(1, name), ...pbBytes(2, pbBytes(1, [...pbInt(1, ELEM[elem]), ...pbBytes(2, shape)]))];
}

/** TensorProto with raw_data (little-endian, as ONNX requires); dims [] is a scalar. */
function initializer(name, dims, elem, typed) {
  const raw = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  return [...dims.flatMap((d) => pbInt(1, d)), ...pbInt(2, ELEM[elem]), ...pbStr(8, name), ...pbBytes(9, raw)];
}

const floatInitializer = (name, dims, data) => initializer(name, dims, 'float32', Float32Array.from(data));

function node(op, inputs, output, attributes = []) {
  return [...inputs.flatMap((i) => pbStr(1, i)), ...pbStr(2, output), ...pbStr(3, `${op}_${output}`), ...pbStr(4, op), ...attributes.flatMap((a) => pbBytes(5, a))];
}

/** AttributeProto: INTS (type 7, unpacked repeated int64), INT (type 2), FLOAT (type 1, fixed32). */
const intsAttr = (name, values) => [...pbStr(1, name), ...values.flatMap((v) => pbInt(8, v)), ...pbInt(20, 7)];
const intAttr = (name, value) => [...pbStr(1, name), ...pbInt(3, value), ...pbInt(20, 2)];
function floatAttr(name, value) {
  const bytes = new Uint8Array(Float32Array.of(value).buffer);
  return [...pbStr(1, name), ...field(2, 5), ...bytes, ...pbInt(20, 1)];
}

function model(graph, opset) {
  return Uint8Array.from([...pbInt(1, 7), ...pbStr(2, 'snapgrad-bench'), ...pbBytes(7, graph), ...pbBytes(8, [...pbStr(1, ''), ...pbInt(2, opset)])]);
}

/** Y[int32 M,N] = MatMulInteger(A[aType M,K], B[int8 K,N]), opset 10. */
export function matMulIntegerModel(M, N, K, aType) {
  const graph = [
    ...pbBytes(1, node('MatMulInteger', ['A', 'B'], 'Y')), ...pbStr(2, 'g'),
    ...pbBytes(11, valueInfo('A', aType, [M, K])), ...pbBytes(11, valueInfo('B', 'int8', [K, N])),
    ...pbBytes(12, valueInfo('Y', 'int32', [M, N])),
  ];
  return model(graph, 10);
}

/** y[int8 n] = QuantizeLinear(x[float32 n], scale, zeroPoint): round half to even, saturate to [-128, 127]; opset 13. */
export function quantizeLinearModel(n, scale, zeroPoint) {
  const graph = [
    ...pbBytes(1, node('QuantizeLinear', ['x', 's', 'z'], 'y')), ...pbStr(2, 'q'),
    ...pbBytes(5, initializer('s', [], 'float32', Float32Array.of(scale))),
    ...pbBytes(5, initializer('z', [], 'int8', Int8Array.of(zeroPoint))),
    ...pbBytes(11, valueInfo('x', 'float32', [n])),
    ...pbBytes(12, valueInfo('y', 'int8', [n])),
  ];
  return model(graph, 13);
}

/** y = Sign(x), float32 [n]; opset 13. */
export function signModel(n) {
  const graph = [
    ...pbBytes(1, node('Sign', ['x'], 'y')), ...pbStr(2, 'sign'),
    ...pbBytes(11, valueInfo('x', 'float32', [n])),
    ...pbBytes(12, valueInfo('y', 'float32', [n])),
  ];
  return model(graph, 13);
}

/**
 * The float MLP, opset 13: per layer h = MatMul(h, W) + b, then Sign between
 * layers. layers: [{ w: [in*out] row-major [in, out], b: [out] }].
 */
export function floatMlpModel(layers, batchSize) {
  const nodes = [];
  const inits = [];
  let h = 'x';
  layers.forEach((l, i) => {
    const [fin, fout] = [l.w.length / l.b.length, l.b.length];
    inits.push(floatInitializer(`w${i}`, [fin, fout], l.w), floatInitializer(`b${i}`, [fout], l.b));
    nodes.push(node('MatMul', [h, `w${i}`], `mm${i}`), node('Add', [`mm${i}`, `b${i}`], i === layers.length - 1 ? 'y' : `z${i}`));
    if (i < layers.length - 1) nodes.push(node('Sign', [`z${i}`], `h${i}`));
    h = `h${i}`;
  });
  const inFeatures = layers[0].w.length / layers[0].b.length;
  const graph = [
    ...nodes.flatMap((n) => pbBytes(1, n)), ...pbStr(2, 'float_mlp'),
    ...inits.flatMap((t) => pbBytes(5, t)),
    ...pbBytes(11, valueInfo('x', 'float32', [batchSize, inFeatures])),
    ...pbBytes(12, valueInfo('y', 'float32', [batchSize, layers[layers.length - 1].b.length])),
  ];
  return model(graph, 13);
}

/**
 * The float binary-CNN, opset 13, NCHW (ONNX's layout): per conv stage
 * Conv(3x3, pads 1, no bias) -> MaxPool(2, stride 2) -> BatchNormalization
 * (eval: running mean/var, epsilon) -> Sign; then Flatten -> Gemm (batch norm
 * folded into its weights and bias) -> Sign -> Gemm.
 * convs: [{ w: OIHW float32, shape: [O, I, kh, kw], bn: { scale, bias, mean, variance, eps } }];
 * dense: [{ w: row-major [in, out] with `in` in NCHW flatten order, b: [out] }].
 */
export function floatCnnModel(convs, dense, batchSize, [height, width, channels]) {
  const nodes = [];
  const inits = [];
  let h = 'x';
  convs.forEach((c, i) => {
    const [, , kh, kw] = c.shape;
    inits.push(floatInitializer(`cw${i}`, c.shape, c.w));
    for (const k of ['scale', 'bias', 'mean', 'variance']) inits.push(floatInitializer(`bn${i}_${k}`, [c.shape[0]], c.bn[k]));
    const ph = (kh - 1) >> 1, pw = (kw - 1) >> 1;
    nodes.push(
      node('Conv', [h, `cw${i}`], `conv${i}`, [intsAttr('kernel_shape', [kh, kw]), intsAttr('pads', [ph, pw, kh - 1 - ph, kw - 1 - pw]), intsAttr('strides', [1, 1])]),
      node('MaxPool', [`conv${i}`], `pool${i}`, [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])]),
      node('BatchNormalization', [`pool${i}`, `bn${i}_scale`, `bn${i}_bias`, `bn${i}_mean`, `bn${i}_variance`], `norm${i}`, [floatAttr('epsilon', c.bn.eps)]),
      node('Sign', [`norm${i}`], `act${i}`),
    );
    h = `act${i}`;
  });
  nodes.push(node('Flatten', [h], 'flat', [intAttr('axis', 1)]));
  h = 'flat';
  dense.forEach((l, i) => {
    const [fin, fout] = [l.w.length / l.b.length, l.b.length];
    const last = i === dense.length - 1;
    inits.push(floatInitializer(`w${i}`, [fin, fout], l.w), floatInitializer(`b${i}`, [fout], l.b));
    nodes.push(node('Gemm', [h, `w${i}`, `b${i}`], last ? 'y' : `z${i}`));
    if (!last) nodes.push(node('Sign', [`z${i}`], `h${i}`));
    h = `h${i}`;
  });
  const graph = [
    ...nodes.flatMap((n) => pbBytes(1, n)), ...pbStr(2, 'float_cnn'),
    ...inits.flatMap((t) => pbBytes(5, t)),
    ...pbBytes(11, valueInfo('x', 'float32', [batchSize, channels, height, width])),
    ...pbBytes(12, valueInfo('y', 'float32', [batchSize, dense[dense.length - 1].b.length])),
  ];
  return model(graph, 13);
}

/** onnxruntime-web with the wasm execution provider, one thread, wasm files from its dist folder. */
export async function loadOrt() {
  const dist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = pathToFileURL(join(dist, '/')).href;
  return ort;
}
