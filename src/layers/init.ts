/**
 * Parameter initialisers. Each draws from a key in plain JS, so parameters
 * are bit-identical on every backend and in both runtimes.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { type Key, normal, uniform } from '../random.ts';

/**
 * Kaiming (He) normal for ReLU nets: std = sqrt(2 / fanIn), PyTorch's
 * `kaiming_normal_` default.
 *
 * @example
 * const w = kaimingNormal(prngKey(0), [3, 3, 16, 32], 3 * 3 * 16);
 */
export const kaimingNormal = (key: Key, shape: readonly number[], fanIn: number): tf.Tensor =>
  tf.tensor(normal(key, shape.reduce((a, b) => a * b, 1), Math.sqrt(2 / fanIn)), [...shape], 'float32');

/**
 * Uniform in ±1/sqrt(fanIn): PyTorch's default for `nn.Linear` weights and biases.
 *
 * @example
 * const w = lecunUniform(prngKey(0), [256, 10], 256);
 */
export const lecunUniform = (key: Key, shape: readonly number[], fanIn: number): tf.Tensor => {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.tensor(uniform(key, shape.reduce((a, b) => a * b, 1), -bound, bound), [...shape], 'float32');
};
