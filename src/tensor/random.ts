import type { RngCounter } from '../kernels/rng.js';
import { checkNumber, describe } from './checks.js';

// The default generator: one global seed and a counter of unseeded random
// calls. Unseeded call k takes its own stream (stream k) of a key derived from
// the global seed, from draw 0, so two calls never share draws, the state is
// two integers, and a fresh process after seed(n) replays the same calls bit
// for bit in every runtime. Calls with { seed } use only that seed and never
// touch this state.

/** The streams seeded calls use, fixed by the bits users already depend on (the conformance snapshot). */
export const Stream = { creation: 0, gumbel: 7, bernoulli: 8 } as const;

const MAX_SEED = 2 ** 32 - 1;
const GOLDEN = 0x9e3779b9;

/** A plain snapshot of the default generator, for checkpoints: `setRngState(rngState())` replays what follows. */
export interface RngState {
  /** The global seed, an integer in [0, 2^32 - 1]. */
  seed: number;
  /** How many unseeded random calls have drawn from the seed since it was set. */
  counter: number;
}

let globalSeed: number | undefined;
let counter = 0;

/** Seeds are integers in [0, 2^32 - 1]; the message says which bound a bad one breaks. */
function checkSeed(v: unknown, op: string, arg: string): number {
  return checkNumber(v, op, arg, { integer: true, min: 0, max: MAX_SEED });
}

/**
 * The seed the default generator's streams are drawn from: a bijective mix
 * (splitmix32's finalizer) of the global seed, so that after seed(1) the
 * unseeded calls do not replay calls with { seed: 1 } (stream 0 of seed 1 is
 * randn(s, { seed: 1 }); stream 7 is gumbelSoftmax's).
 */
function defaultStreamSeed(globalSeedValue: number): number {
  let z = (globalSeedValue + 0x6a09e667) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Without seed(n), the default seed is drawn once, at the first unseeded call,
 * from crypto.getRandomValues (Math.random where that is missing or refused,
 * e.g. in a Worker's global scope), so runs differ; rngState() reveals it.
 */
function defaultSeed(): number {
  if (globalSeed === undefined) {
    const c = (globalThis as { crypto?: { getRandomValues?(a: Uint32Array): Uint32Array } }).crypto;
    let s: number | undefined;
    try {
      if (c?.getRandomValues) s = c.getRandomValues(new Uint32Array(1))[0];
    } catch {
      s = undefined;
    }
    globalSeed = s ?? Math.floor(Math.random() * 2 ** 32) >>> 0;
  }
  return globalSeed;
}

/**
 * Sets the seed of the default generator and restarts it: every random call
 * without its own `{ seed }` (randn, rand, randint, ste.gumbelSoftmax) that
 * follows gives the same bits in every runtime and every process.
 */
export function seed(n: number): void {
  globalSeed = checkSeed(n, 'seed', 'n');
  counter = 0;
}

/** The default generator's state as a plain object (it draws the default seed if none was set). */
export function rngState(): RngState {
  return { seed: defaultSeed(), counter };
}

/** Restores a state from rngState(): the unseeded calls that follow repeat those that followed it. */
export function setRngState(state: RngState): void {
  if (typeof state !== 'object' || state === null) throw new Error(`setRngState: state must be an object { seed, counter } from rngState(), got ${describe(state)}`);
  const s = checkSeed(state.seed, 'setRngState', 'state.seed');
  const c = state.counter;
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > Number.MAX_SAFE_INTEGER) {
    throw new Error(`setRngState: state.counter must be a non-negative safe integer, got ${describe(c)}`);
  }
  globalSeed = s;
  counter = c;
}

/** The draws of one random call; commit() once the call has succeeded advances the default generator if it was used. */
export interface RandomDraw extends RngCounter {
  commit(): void;
}

/**
 * The draws for one call of `op`: with a seed (validated here, before the
 * caller allocates anything), stream `stream` of that seed; without, the next
 * stream of the default generator. The counter only moves on commit(), so a
 * call that fails changes nothing.
 */
export function randomDraw(seedOption: unknown, op: string, stream: number): RandomDraw {
  if (seedOption !== undefined) {
    return { seed: checkSeed(seedOption, op, 'seed'), stream, offset: 0, commit: () => {} };
  }
  const base = defaultSeed();
  const k = counter;
  // Past 2^53 - 1 the counter cannot step exactly (k + 1 === k): every call would replay one stream,
  // and rngState() would report a counter setRngState() refuses.
  if (k >= Number.MAX_SAFE_INTEGER) {
    throw new Error(`${op}: the default generator has drawn its last stream (state.counter = ${k}, at most 2^53 - 1); restart it with seed(n) or setRngState(), or pass { seed } to this call`);
  }
  // Streams are 32-bit; past 2^32 calls the seed moves on instead of repeating streams.
  const high = Math.floor(k / 2 ** 32);
  return {
    seed: (defaultStreamSeed(base) + Math.imul(high, GOLDEN)) >>> 0,
    stream: k >>> 0,
    offset: 0,
    commit: () => {
      counter = k + 1;
    },
  };
}
