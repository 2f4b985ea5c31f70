/**
 * Parameter initialisers. Each draws from a key in plain JS, so parameters
 * are bit-identical on every backend and in both runtimes.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import * as t from 'io-ts';
import { decodeArg, MAX_WEIGHT_SIZE, NonNegativeInt, Positive, PrngKey, showValue } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { type Key, normal, uniform } from '../random.ts';

const Dims = t.readonlyArray(NonNegativeInt, 'non-negative integers');

/** Check a weight's key, shape and fan-in on behalf of `owner`, and return its size. */
const checked = (owner: string, key: Key, shape: readonly number[], fanIn: number): number => {
  decodeArg(`${owner}.key`, PrngKey, key);
  decodeArg(`${owner}.shape`, Dims, shape);
  decodeArg(`${owner}.fanIn`, Positive, fanIn);
  const size = shape.reduce((a, b) => a * b, 1);
  if (size > MAX_WEIGHT_SIZE) {
    throw new ConfigError([
      `${owner}.shape: expected at most 2^28 = ${MAX_WEIGHT_SIZE} values, got ${showValue(shape)} (${size} values; refused before allocating)`,
    ]);
  }
  return size;
};

/**
 * Kaiming (He) normal for ReLU nets: std = sqrt(2 / fanIn), PyTorch's
 * `kaiming_normal_` default. `key` is a PRNG key, `shape` holds at most 2^28
 * values, and `fanIn` is a finite number > 0.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { kaimingNormal, prngKey } from 'tsnn';
 *
 * const w = kaimingNormal(prngKey(0), [3, 3, 16, 32], 3 * 3 * 16); // std √(2 / 144)
 * console.log(w.shape, tf.moments(w).variance.dataSync()[0].toFixed(3)); // [3, 3, 16, 32] 0.014
 * // kaimingNormal(prngKey(0), [3], 0) throws ConfigError: kaimingNormal.fanIn: expected positive number, got 0
 * ```
 */
export const kaimingNormal = (key: Key, shape: readonly number[], fanIn: number): tf.Tensor =>
  tf.tensor(normal(key, checked('kaimingNormal', key, shape, fanIn), Math.sqrt(2 / fanIn)), [...shape], 'float32');

/**
 * Uniform in ±1/sqrt(fanIn): PyTorch's default for `nn.Linear` weights and
 * biases. `key`, `shape` and `fanIn` are checked as {@link kaimingNormal} checks them.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { lecunUniform, prngKey } from 'tsnn';
 *
 * const w = lecunUniform(prngKey(0), [256, 10], 256); // in ±√(3 / 256)
 * console.log(w.shape, tf.max(tf.abs(w)).dataSync()[0] <= Math.sqrt(3 / 256)); // [256, 10] true
 * ```
 */
export const lecunUniform = (key: Key, shape: readonly number[], fanIn: number): tf.Tensor => {
  const size = checked('lecunUniform', key, shape, fanIn);
  const bound = 1 / Math.sqrt(fanIn);
  return tf.tensor(uniform(key, size, -bound, bound), [...shape], 'float32');
};
