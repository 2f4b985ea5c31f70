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
 * setBackendReason('requested by NN_BACKEND');
 */
export const setBackendReason = (why: string): void => {
  reason = why;
};

/**
 * The backend in use and why it was chosen.
 *
 * @example
 * backendInfo() // { name: 'wasm', reason: 'default: tfjs-node-gpu and tfjs-node unavailable' }
 */
export const backendInfo = (): { name: string; reason: string } => ({
  name: tf.getBackend() ?? 'none',
  reason: reason || 'set directly with tf.setBackend',
});
