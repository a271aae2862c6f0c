import { rand } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';

let nextSeed = 0x1234;

/** The seed a layer uses when none is given: deterministic in construction order. */
export function layerSeed(seed: number | undefined): number {
  if (seed !== undefined) return seed >>> 0;
  nextSeed = (Math.imul(nextSeed, 1664525) + 1013904223) >>> 0;
  return nextSeed;
}

/** Uniform in [-bound, bound). Layers seed a bias with seed + 1: the seed wraps to 32 bits, so 2^32 - 1 is valid too. */
export function uniformInit(shape: number[], bound: number, seed: number): Tensor {
  return rand(shape, { low: -bound, high: bound, seed: seed >>> 0 });
}

/** Glorot/Xavier uniform bound for a [fanOut, fanIn] weight. */
export function glorotBound(fanIn: number, fanOut: number): number {
  return Math.sqrt(6 / (fanIn + fanOut));
}
