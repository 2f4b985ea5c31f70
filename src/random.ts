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
// Argument checks (plain code: config's codecs import this module, so it cannot import them)
// ---------------------------------------------------------------------------

/** A value as config's messages show it: NaN by name, strings quoted (JSON would print null and bare text). */
const show = (v: unknown): string =>
  typeof v === 'string'
    ? JSON.stringify(v)
    : Array.isArray(v)
    ? `[${v.map(show).join(', ')}]`
    : typeof v === 'function'
    ? 'a function'
    : v !== null && typeof v === 'object'
    ? 'an object'
    : String(v);

/** The most numbers one draw may make: 2^28, as many as the largest weight (config.ts's MAX_WEIGHT_SIZE). */
const MAX_DRAW = 2 ** 28;

const refuse = (field: string, expected: string, got: unknown): never => {
  throw new ConfigError([`${field}: expected ${expected}, got ${show(got)}`]);
};

const checkKey = (owner: string, key: unknown): void => {
  if (!isKey(key)) refuse(`${owner}.key`, 'a PRNG key (prngKey(seed))', key);
};

const checkCount = (owner: string, field: string, n: unknown): void => {
  if (!(Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_DRAW)) refuse(`${owner}.${field}`, 'integer in 0..2^28', n);
};

const checkFinite = (field: string, v: unknown): void => {
  if (!Number.isFinite(v)) refuse(field, 'finite number', v);
};

// ---------------------------------------------------------------------------
// Threefry-2x32
// ---------------------------------------------------------------------------

const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24] as const;

const rotl = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0;

/**
 * Threefry-2x32 with 20 rounds (Random123), the block cipher JAX uses for its keys.
 *
 * @example
 * ```ts
 * // The Random123 known-answer test for 20 rounds and all-zero inputs.
 * const [a, b] = threefry2x32(0, 0, 0, 0);
 * console.log(a.toString(16), b.toString(16)); // 6b200159 99ba4efe
 * ```
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
 * ```ts
 * import { prngKey } from 'tsnn';
 *
 * console.log(prngKey(0), prngKey(2 ** 32 + 5)); // [ 0, 0 ] [ 1, 5 ]
 * ```
 */
export const prngKey = (seed: number): Key => {
  if (!Number.isSafeInteger(seed)) refuse('prngKey.seed', 'a safe integer', seed);
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  const lo = seed >>> 0;
  return [hi, lo] as Key;
};

/**
 * True when `k` has the shape of a key: two uint32 words.
 *
 * @example
 * ```ts
 * console.log(isKey([1, 2]), isKey([1, -2]), isKey('seed')); // true false false
 * ```
 */
export const isKey = (k: unknown): k is Key =>
  Array.isArray(k) && k.length === 2 &&
  k.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff);

/**
 * Split a key into `n` independent keys (`n` a positive integer up to 2^28).
 *
 * @example
 * ```ts
 * import { prngKey, split } from 'tsnn';
 *
 * const [kInit, kDrop] = split(prngKey(0), 2);
 * console.log(kInit.join() !== kDrop.join()); // true
 * try {
 *   split(prngKey(0), 0);
 * } catch (e) {
 *   console.log((e as Error).message); // split.n: expected positive integer, got 0
 * }
 * ```
 */
export const split = (key: Key, n = 2): Key[] => {
  checkKey('split', key);
  if (!(Number.isInteger(n) && n >= 1)) refuse('split.n', 'positive integer', n);
  if (n > MAX_DRAW) refuse('split.n', 'positive integer up to 2^28', n);
  return Array.from({ length: n }, (_, i) => threefry2x32(key[0], key[1], 0, i) as unknown as Key);
};

/**
 * Derive a key from `key` and an integer, without splitting: `foldIn(k, i)`
 * is the i-th child of `k`. Combinators use it to give each child its own
 * key. `data` is any safe integer, taken mod 2^32 (so -1 and 2^32 - 1 give
 * the same key).
 *
 * @example
 * ```ts
 * import { foldIn, prngKey } from 'tsnn';
 *
 * const childKey = foldIn(prngKey(0), 3); // the same (key, data) always gives the same child
 * console.log(childKey.join() === foldIn(prngKey(0), 3).join()); // true
 * try {
 *   foldIn(prngKey(0), 1.5);
 * } catch (e) {
 *   console.log((e as Error).message); // foldIn.data: expected a safe integer, got 1.5
 * }
 * ```
 */
export const foldIn = (key: Key, data: number): Key => {
  checkKey('foldIn', key);
  // A NaN or a fraction would otherwise become 0 or its floor: two children with one key.
  if (!Number.isSafeInteger(data)) refuse('foldIn.data', 'a safe integer', data);
  return threefry2x32(key[0], key[1], 0x9e3779b9, data >>> 0) as unknown as Key;
};

/**
 * `count` random uint32 words drawn from `key`.
 *
 * @example
 * ```ts
 * import { prngKey } from 'tsnn';
 *
 * const bits = randomBits(prngKey(1), 4);
 * console.log(bits.length, bits instanceof Uint32Array); // 4 true
 * ```
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
 * `count` is an integer in 0..2^28; `lo` and `hi` are finite.
 *
 * @example
 * ```ts
 * import { prngKey, uniform } from 'tsnn';
 *
 * const u = uniform(prngKey(1), 3, -1, 1);
 * console.log(u.length, u.every((v) => v >= -1 && v < 1)); // 3 true
 * try {
 *   uniform(prngKey(1), -1);
 * } catch (e) {
 *   console.log((e as Error).message); // uniform.count: expected integer in 0..2^28, got -1
 * }
 * ```
 */
export const uniform = (key: Key, count: number, lo = 0, hi = 1): Float32Array => {
  checkKey('uniform', key);
  checkCount('uniform', 'count', count);
  checkFinite('uniform.lo', lo);
  checkFinite('uniform.hi', hi);
  const bits = randomBits(key, count);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = lo + (hi - lo) * ((bits[i] >>> 8) / 16777216);
  return out;
};

/**
 * `count` standard-normal floats (Box–Muller on Threefry bits), times `std`.
 * `count` is an integer in 0..2^28; `std` a finite number >= 0.
 *
 * @example
 * ```ts
 * import { normal, prngKey } from 'tsnn';
 *
 * const w = normal(prngKey(2), 9, 0.1);
 * console.log(w.length); // 9
 * try {
 *   normal(prngKey(2), 9, NaN);
 * } catch (e) {
 *   console.log((e as Error).message); // normal.std: expected finite number >= 0, got NaN
 * }
 * ```
 */
export const normal = (key: Key, count: number, std = 1): Float32Array => {
  checkKey('normal', key);
  checkCount('normal', 'count', count);
  if (!(Number.isFinite(std) && std >= 0)) refuse('normal.std', 'finite number >= 0', std);
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
 * A permutation of 0..n-1 (Fisher–Yates driven by the key), `n` an integer in 0..2^28.
 *
 * @example
 * ```ts
 * import { permutation, prngKey } from 'tsnn';
 *
 * const order = permutation(prngKey(3), 10);
 * console.log([...order].sort((a, b) => a - b).join()); // 0,1,2,3,4,5,6,7,8,9
 * ```
 */
export const permutation = (key: Key, n: number): Int32Array => {
  checkKey('permutation', key);
  checkCount('permutation', 'n', n);
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
