/**
 * Splittable, counter-based PRNG keys in the style of JAX.
 *
 * A key is two unsigned 32-bit words. Every random draw is a pure function of
 * a key and a counter (Threefry-2x32, 20 rounds), computed in plain integer JS,
 * so the same key gives bit-identical numbers on every backend and runtime.
 *
 * @module
 */
import { ConfigError } from './errors.ts';

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** A PRNG key: two uint32 words. Never mutate; derive new keys with {@link split}. */
export type Key = readonly [number, number] & { readonly __brand?: 'Key' };

// ---------------------------------------------------------------------------
// Threefry-2x32
// ---------------------------------------------------------------------------

const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24] as const;

const rotl = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0;

/**
 * Threefry-2x32 with 20 rounds (Random123), the block cipher JAX uses for its keys.
 *
 * @example
 * threefry2x32(0, 0, 0, 0) // [0x6b200159, 0x99ba4efe]
 */
export const threefry2x32 = (k0: number, k1: number, c0: number, c1: number): [number, number] => {
  const k2 = (k0 ^ k1 ^ 0x1bd11bda) >>> 0;
  const ks = [k0, k1, k2];
  let x0 = (c0 + k0) >>> 0;
  let x1 = (c1 + k1) >>> 0;
  for (let block = 0; block < 5; block++) {
    for (let r = 0; r < 4; r++) {
      x0 = (x0 + x1) >>> 0;
      x1 = rotl(x1, ROTATIONS[(block % 2) * 4 + r]) ^ x0;
    }
    x0 = (x0 + ks[(block + 1) % 3]) >>> 0;
    x1 = (x1 + ks[(block + 2) % 3] + block + 1) >>> 0;
  }
  return [x0, x1];
};

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

/**
 * Make a key from an integer seed (any safe integer, negative allowed).
 *
 * @example
 * const key = prngKey(0);
 */
export const prngKey = (seed: number): Key => {
  if (!Number.isSafeInteger(seed)) {
    throw new ConfigError([`prngKey.seed: expected a safe integer, got ${String(seed)}`]);
  }
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  const lo = seed >>> 0;
  return [hi, lo] as Key;
};

/**
 * True when `k` has the shape of a key: two uint32 words.
 *
 * @example
 * isKey([1, 2]) // true
 */
export const isKey = (k: unknown): k is Key =>
  Array.isArray(k) && k.length === 2 &&
  k.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff);

/**
 * Split a key into `n` independent keys.
 *
 * @example
 * const [kInit, kDrop] = split(prngKey(0), 2);
 */
export const split = (key: Key, n = 2): Key[] => {
  if (!Number.isInteger(n) || n < 1) throw new ConfigError([`split.n: expected positive integer, got ${String(n)}`]);
  return Array.from({ length: n }, (_, i) => threefry2x32(key[0], key[1], 0, i) as unknown as Key);
};

/**
 * Derive a key from `key` and an integer, without splitting: `foldIn(k, i)`
 * is the i-th child of `k`. Combinators use it to give each child its own key.
 *
 * @example
 * const childKey = foldIn(prngKey(0), 3);
 */
export const foldIn = (key: Key, data: number): Key =>
  threefry2x32(key[0], key[1], 0x9e3779b9, data >>> 0) as unknown as Key;

/**
 * `count` random uint32 words drawn from `key`.
 *
 * @example
 * const bits = randomBits(prngKey(1), 4); // Uint32Array(4)
 */
export const randomBits = (key: Key, count: number): Uint32Array => {
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i += 2) {
    const [a, b] = threefry2x32(key[0], key[1], 1, i >>> 1);
    out[i] = a;
    if (i + 1 < count) out[i + 1] = b;
  }
  return out;
};

/**
 * `count` floats uniform in [lo, hi), exactly representable in float32.
 *
 * @example
 * const u = uniform(prngKey(1), 3, -1, 1);
 */
export const uniform = (key: Key, count: number, lo = 0, hi = 1): Float32Array => {
  const bits = randomBits(key, count);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = lo + (hi - lo) * ((bits[i] >>> 8) / 16777216);
  return out;
};

/**
 * `count` standard-normal floats (Box–Muller on Threefry bits), times `std`.
 *
 * @example
 * const w = normal(prngKey(2), 9, 0.1);
 */
export const normal = (key: Key, count: number, std = 1): Float32Array => {
  const bits = randomBits(key, count + (count % 2));
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    // (bits+1)/2^24 lies in (0, 1], so the log is finite.
    const u1 = ((bits[i] >>> 8) + 1) / 16777216;
    const u2 = (bits[i + 1] >>> 8) / 16777216;
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
};

/**
 * A permutation of 0..n-1 (Fisher–Yates driven by the key).
 *
 * @example
 * const order = permutation(prngKey(3), 10);
 */
export const permutation = (key: Key, n: number): Int32Array => {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  const bits = randomBits(key, n);
  for (let i = n - 1; i > 0; i--) {
    const j = bits[i] % (i + 1);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
};
