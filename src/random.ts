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
 * isKey([1, 2]); // true
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
 * const [kInit, kDrop] = split(prngKey(0), 2);
 * // split(prngKey(0), 0) throws ConfigError: split.n: expected positive integer up to 2^28, got 0
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
 * const childKey = foldIn(prngKey(0), 3);
 * // foldIn(prngKey(0), 1.5) throws ConfigError: foldIn.data: expected a safe integer, got 1.5
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
 * `count` is an integer in 0..2^28; `lo` and `hi` are finite.
 *
 * @example
 * ```ts
 * const u = uniform(prngKey(1), 3, -1, 1);
 * // uniform(prngKey(1), -1) throws ConfigError: uniform.count: expected integer in 0..2^28, got -1
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
 * const w = normal(prngKey(2), 9, 0.1);
 * // normal(prngKey(2), 9, NaN) throws ConfigError: normal.std: expected finite number >= 0, got NaN
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
 * const order = permutation(prngKey(3), 10);
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
