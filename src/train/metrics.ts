/**
 * Metrics and running means.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import type { Flow } from '../layer.ts';

/** A metric: a scalar from model outputs and targets, averaged over the batch. */
export interface Metric {
  readonly name: string;
  (output: Flow, target: tf.Tensor): tf.Scalar;
}

const metric = (name: string, f: (output: Flow, target: tf.Tensor) => tf.Scalar): Metric =>
  Object.defineProperty(f, 'name', { value: name }) as Metric;

/**
 * Fraction of examples whose arg-max logit is the label.
 *
 * @example
 * accuracy(tf.tensor2d([[0, 1], [1, 0]]), tf.tensor1d([1, 1], 'int32')) // 0.5
 */
export const accuracy: Metric = metric('accuracy', (output, target) =>
  tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(output as tf.Tensor, 1), tf.cast(target, 'int32')), 'float32')) as tf.Scalar));

/**
 * `1 - accuracy`.
 *
 * @example
 * errorRate(logits, labels)
 */
export const errorRate: Metric = metric('error_rate', (output, target) =>
  tf.tidy(() => tf.sub(1, accuracy(output, target)) as tf.Scalar));

/**
 * A mean weighted by batch size, accumulated in plain numbers.
 *
 * @example
 * const m = runningMean(); m.add(0.5, 64); m.add(0.3, 16); m.value // 0.46
 */
export const runningMean = () => {
  let total = 0, count = 0;
  return {
    add(value: number, weight: number): void {
      total += value * weight;
      count += weight;
    },
    get value(): number {
      return count === 0 ? NaN : total / count;
    },
    get count(): number {
      return count;
    },
  };
};
