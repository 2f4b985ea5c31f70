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
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { engine, registerBackend, removeBackend } from '@tensorflow/tfjs-core';
import './gradients.ts';

export * from '@tensorflow/tfjs-core';

// tfjs's cpu backend greets its first tensor under Node with advice to install tfjs-node, which the
// library chooses (or not) itself, in selectBackend, and reports in backendInfo(). Its factory is
// replaced by one whose backend has already "greeted", unless an instance exists (the user's own).
if (!(engine().registry as Record<string, unknown>).cpu) {
  removeBackend('cpu');
  registerBackend('cpu', () => Object.assign(new MathBackendCPU(), { firstUse: false }), 1);
}
