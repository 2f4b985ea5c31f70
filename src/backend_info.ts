/**
 * Which tfjs backend is in use, and why. Backend selection records its
 * reason here; the epoch table's header prints it. It sits below both, so
 * that training reads it without importing the engine.
 *
 * @module
 */
import * as tf from './tfjs/tf.ts';

let reason = '';

/**
 * Record why the current backend was chosen (called by backend selection).
 *
 * @example
 * ```ts
 * setBackendReason('requested by NN_BACKEND');
 * console.log(backendInfo().reason); // requested by NN_BACKEND
 * ```
 */
export const setBackendReason = (why: string): void => {
  reason = why;
};

/**
 * The backend in use and why it was chosen.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { backendInfo } from 'tsnn';
 *
 * // Importing tsnn registers tfjs's pure-JS cpu backend; selectBackend picks a faster one.
 * await tf.ready(); // tfjs starts its backend lazily: before this, the name is 'none'
 * console.log(backendInfo()); // { name: "cpu", reason: "set directly with tf.setBackend" }
 * ```
 */
export const backendInfo = (): { name: string; reason: string } => ({
  name: tf.getBackend() ?? 'none',
  reason: reason || 'set directly with tf.setBackend',
});
