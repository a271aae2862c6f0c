// Scalar twin of assembly/quant_s8.ts.
//   quantize:   q = clamp(roundHalfEven(x / scale[c]) + zeroPoint[c], qmin, qmax)
//   dequantize: x = (q - zeroPoint[c]) · scale[c]
// float32 arithmetic throughout; channel c = row (per-channel) or 0 (per-tensor).

/** Round half to even (banker's rounding): 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -2.5 -> -2. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  // Math.round sends ties up (toward +Infinity); move odd results of ties down.
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function quantizeRef(x: ArrayLike<number>, rows: number, cols: number, scales: ArrayLike<number>, zeroPoints: ArrayLike<number>,
                            perChannel: boolean, qmin: number, qmax: number): Int32Array {
  const q = new Int32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const c = perChannel ? r : 0;
    for (let j = 0; j < cols; j++) {
      let v = Math.fround(roundHalfEven(Math.fround(x[r * cols + j] / scales[c])) + zeroPoints[c]);
      v = v < qmin ? qmin : v > qmax ? qmax : v;
      q[r * cols + j] = v;
    }
  }
  return q;
}

export function dequantizeRef(q: ArrayLike<number>, rows: number, cols: number, scales: ArrayLike<number>, zeroPoints: ArrayLike<number>,
                              perChannel: boolean): Float32Array {
  const x = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const c = perChannel ? r : 0;
    for (let j = 0; j < cols; j++) x[r * cols + j] = Math.fround(Math.fround(q[r * cols + j] - zeroPoints[c]) * scales[c]);
  }
  return x;
}

/** max |x| per row (0 for an empty row). */
export function absmaxRowsRef(x: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let j = 0; j < cols; j++) m = Math.max(m, Math.abs(x[r * cols + j]));
    out[r] = m;
  }
  return out;
}

/** Symmetric int8 scale for a max |x|: absmax / 127, or 1 when absmax is 0 (any scale represents all zeros). */
export function symmetricScaleRef(absmax: number): number {
  return absmax > 0 ? Math.fround(absmax / 127) : 1;
}
