/**
 * Which tfjs backend is in use, and why. Backend selection records its
 * reason here; the epoch table's header prints it. It sits below both, so
 * that training reads it without importing the engine.
 *
 * @module
 */
import * as tf from './tfjs/tf.ts';

let reason = '';
let notices: ((line: string) => void) | undefined;

/**
 * Record why the current backend was chosen (called by backend selection),
 * and where notices about it go.
 *
 * @example
 * ```ts
 * setBackendReason('requested by NN_BACKEND');
 * console.log(backendInfo().reason); // requested by NN_BACKEND
 * ```
 */
export const setBackendReason = (why: string, warn?: (line: string) => void): void => {
  reason = why;
  notices = warn;
};

/**
 * Where notices about the chosen backend go: the `warn` given to backend
 * selection, else `console.warn`.
 *
 * @example
 * ```ts
 * setBackendReason('requested by option', () => {});
 * backendNotice('not shown'); // went to the function above
 * ```
 */
export const backendNotice = (line: string): void => (notices ?? ((l: string) => console.warn(l)))(line);

/**
 * Whether backend selection has run (the user chose the engine, or let
 * `selectBackend` choose it), as opposed to tfjs's own cpu default.
 *
 * @example
 * ```ts
 * setBackendReason('requested by option');
 * console.log(backendChosen()); // true
 * ```
 */
export const backendChosen = (): boolean => reason !== '';

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
