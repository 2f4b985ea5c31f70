/**
 * The tensor engine every module of the library imports: tfjs-core with its
 * pure-JS cpu backend and all of tfjs-core's gradients registered. tfjs-core's
 * own Node entry registers no gradients, so importing tfjs-core directly would
 * leave `valueAndGrad` without them; routing every import through here makes
 * the registration happen before any op can run.
 *
 * @example
 * ```ts
 * import * as tf from './tf.ts';
 *
 * const dx = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, x)))(tf.tensor([1, 2]));
 * console.log(Array.from(dx.dataSync())); // [2, 4]
 * ```
 *
 * @module
 */
import '@tensorflow/tfjs-backend-cpu';
import './gradients.ts';

export * from '@tensorflow/tfjs-core';
