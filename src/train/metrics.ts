/**
 * Metrics and running means.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { decodeArg, NonNegative } from '../config.ts';
import type { Flow } from '../layer.ts';
import { checkClassLabels } from './losses.ts';

/**
 * tfjs-core's tensor types under private aliases: `deno doc --lint` reports
 * npm types named directly in a public type as private-type-ref (see
 * `Tensor` in layer.ts); an `@ignore`d alias silences just those.
 *
 * @ignore
 */
type Tensor = tf.Tensor;
/** @ignore */
type Scalar = tf.Scalar;

/** A metric: a scalar from model outputs and targets, averaged over the batch. */
export interface Metric {
  /** The column name in the epoch table and the key in `EpochRow.metrics`. */
  readonly name: string;
  /** The metric of one batch, as a scalar. */
  (output: Flow, target: Tensor): Scalar;
}

const metric = (name: string, f: (output: Flow, target: tf.Tensor) => tf.Scalar): Metric => Object.defineProperty(f, 'name', { value: name }) as Metric;

/** The fraction of rows whose arg-max is the label, the labels checked on behalf of `owner` as the losses check them. */
const hitRate = (owner: string, output: Flow, target: tf.Tensor): tf.Scalar => {
  const logits = checkClassLabels(owner, output, target);
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), target), 'float32')) as tf.Scalar);
};

/**
 * Fraction of examples whose arg-max logit is the label. Logits `[b, c]`,
 * int32 labels `[b]` in `0..c-1`, `b > 0`; anything else is a ConfigError
 * naming `accuracy` (an out-of-range label would otherwise count as a miss).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * console.log(accuracy(tf.tensor2d([[0, 1], [1, 0]]), tf.tensor1d([1, 1], 'int32')).dataSync()[0]); // 0.5
 * ```
 */
export const accuracy: Metric = metric('accuracy', (output, target) => hitRate('accuracy', output, target));

/**
 * `1 - accuracy`, with the same checks, named `errorRate` in messages.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * console.log(errorRate(tf.tensor2d([[0, 1], [3, 0]]), tf.tensor1d([1, 1], 'int32')).dataSync()[0]); // 0.5
 * ```
 */
export const errorRate: Metric = metric('error_rate', (output, target) => tf.tidy(() => tf.sub(1, hitRate('errorRate', output, target)) as tf.Scalar));

/**
 * A mean weighted by batch size, accumulated in plain numbers. A value may be
 * anything (a NaN loss is worth reporting); a weight must be a finite number
 * >= 0, else a ConfigError naming `runningMean.add.weight`.
 *
 * @example
 * ```ts
 * const m = runningMean();
 * m.add(0.5, 64); // a batch of 64 with mean 0.5
 * m.add(0.3, 16);
 * console.log(m.value.toFixed(2)); // 0.46
 * ```
 */
export const runningMean = (): { add(value: number, weight: number): void; readonly value: number; readonly count: number } => {
  let total = 0, count = 0;
  return {
    add(value: number, weight: number): void {
      decodeArg('runningMean.add.weight', NonNegative, weight);
      if (weight === 0) return;
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
