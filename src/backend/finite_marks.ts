/**
 * Tensors known to hold only finite values. The NaN-keeping convolution and
 * average pool probe their inputs, and `fit`'s guard probes every parameter,
 * statistic and moment, each step: passes over memory that add up to several
 * percent of a step when two threads share the memory bus. Kernels that read
 * or write every value anyway (ReLU, the Adam update) find the answer as a
 * by-product and mark their outputs; a probe that finds a tensor finite marks
 * it too, so a tensor used twice is read once. Marks are keyed by the data's
 * identity, which tfjs never reuses, and tensors are immutable, so a mark
 * stays true for the data's whole life.
 *
 * @module
 */
import type * as tf from '../tfjs/tf.ts';

const finite = new WeakSet<object>();

/**
 * Record that every value of `t` is finite (the caller has seen them all).
 *
 * @example
 * ```ts
 * import * as tf from '../tfjs/tf.ts';
 *
 * const t = tf.tensor([1, 2]);
 * markFinite(t);
 * console.log(isMarkedFinite(t)); // true
 * ```
 */
export const markFinite = (t: tf.TensorInfo): void => void finite.add(t.dataId);

/**
 * Whether `t` was marked finite. False means only "not known".
 *
 * @example
 * ```ts
 * import * as tf from '../tfjs/tf.ts';
 *
 * console.log(isMarkedFinite(tf.tensor([1, NaN]))); // false
 * ```
 */
export const isMarkedFinite = (t: tf.TensorInfo): boolean => finite.has(t.dataId);
