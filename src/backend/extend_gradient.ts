/**
 * Replacing a tfjs gradient while keeping tfjs's own for the cases the
 * replacement leaves to it (tfjs's public `registerGradient`).
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';

/**
 * An idempotent installer (again after tfjs's own gradient is registered anew) that registers `make(stock)` as `kernelName`'s
 * gradient, where `stock` is tfjs's gradient function for that kernel
 * (`outputsToSave` as in tfjs's gradient configs: `[true]` saves the output).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { extendGradient } from 'tsnn/backend';
 *
 * // A Relu gradient that defers to tfjs's own: a template for one that handles a special case first.
 * const install = extendGradient('Relu', ['x'], (stock) => (dy, saved, attrs) => stock(dy, saved, attrs));
 * install(); // once, before training; idempotent
 * console.log(Array.from(tf.grad((x) => tf.sum(tf.relu(x)))(tf.tensor([-1, 2])).dataSync())); // [0, 1]
 * ```
 */
export const extendGradient = (
  kernelName: string,
  inputsToSave: string[],
  make: (stock: tf.GradFunc) => tf.GradFunc,
  outputsToSave?: boolean[],
): () => void => {
  let ours: tf.GradFunc | undefined;
  return () => {
    // Installed unless something registered tfjs's gradient again since (the
    // tfjs umbrella does when a native engine loads it): then wrap that anew.
    const current = tf.getGradient(kernelName);
    if (ours !== undefined && current?.gradFunc === ours) return;
    if (!current) throw new Error(`extendGradient: tfjs has no ${kernelName} gradient to extend`);
    ours = make(current.gradFunc);
    tf.registerGradient({ kernelName, inputsToSave, ...(outputsToSave && { outputsToSave }), gradFunc: ours });
  };
};
