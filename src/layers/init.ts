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

/** Uniform in ±bound, checked on behalf of `owner`. */
const uniformIn = (owner: string, key: Key, shape: readonly number[], fanIn: number, bound: (fanIn: number) => number): tf.Tensor => {
  const size = checked(owner, key, shape, fanIn);
  const b = bound(fanIn);
  return tf.tensor(uniform(key, size, -b, b), [...shape], 'float32');
};

/**
 * Kaiming (He) uniform: U(±√(6 / fanIn)), std √(2 / fanIn), PyTorch's
 * `kaiming_uniform_` with its defaults (a = 0, fan-in). fastai's ConvLayer
 * gives it to a conv followed by ReLU, leaky ReLU or swish. Arguments are
 * checked as {@link kaimingNormal} checks them.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { kaimingUniform, prngKey } from 'tsnn';
 *
 * const w = kaimingUniform(prngKey(0), [3, 3, 16, 32], 3 * 3 * 16); // in ±√(6 / 144)
 * console.log(tf.max(tf.abs(w)).dataSync()[0] <= Math.sqrt(6 / 144), tf.moments(w).variance.dataSync()[0].toFixed(3)); // true 0.014
 * ```
 */
export const kaimingUniform = (key: Key, shape: readonly number[], fanIn: number): tf.Tensor =>
  uniformIn('kaimingUniform', key, shape, fanIn, (n) => Math.sqrt(6 / n));

/**
 * Glorot (Xavier) uniform: U(±√(6 / (fanIn + fanOut))), PyTorch's
 * `xavier_uniform_`. fastai's ConvLayer gives it to a conv followed by
 * sigmoid or tanh. `fanOut` is checked as `fanIn` is.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { prngKey, xavierUniform } from 'tsnn';
 *
 * const w = xavierUniform(prngKey(0), [3, 3, 16, 32], 3 * 3 * 16, 3 * 3 * 32); // in ±√(6 / 432)
 * console.log(tf.max(tf.abs(w)).dataSync()[0] <= Math.sqrt(6 / 432)); // true
 * ```
 */
export const xavierUniform = (key: Key, shape: readonly number[], fanIn: number, fanOut: number): tf.Tensor => {
  decodeArg('xavierUniform.fanOut', Positive, fanOut);
  return uniformIn('xavierUniform', key, shape, fanIn, (n) => Math.sqrt(6 / (n + fanOut)));
};

/**
 * Uniform in ±1/√fanIn (std 1/√(3·fanIn)): PyTorch's default for `nn.Linear`
 * and `nn.Conv2d` weights and biases (`kaiming_uniform_` with a = √5). It is
 * what a conv with no activation keeps in fastai's ConvLayer. Arguments are
 * checked as {@link kaimingNormal} checks them.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { prngKey, torchDefaultUniform } from 'tsnn';
 *
 * const w = torchDefaultUniform(prngKey(0), [256, 10], 256); // in ±1/√256
 * console.log(w.shape, tf.max(tf.abs(w)).dataSync()[0] <= 1 / 16); // [256, 10] true
 * ```
 */
export const torchDefaultUniform = (key: Key, shape: readonly number[], fanIn: number): tf.Tensor =>
  uniformIn('torchDefaultUniform', key, shape, fanIn, (n) => 1 / Math.sqrt(n));
