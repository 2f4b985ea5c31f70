/**
 * The gradient tape on a failed forward pass. tfjs keeps a clone of every
 * tensor a kernel saves for its backward pass, and disposes them only when
 * the backward pass runs: a forward pass that throws (a loss refusing its
 * labels, say) leaves them all behind, about 20 tensors per step of a small
 * model.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';

interface TapeNode {
  readonly saved?: readonly tf.Tensor[];
}
interface EngineState {
  gradientDepth: number;
  activeTape: TapeNode[] | null;
}

/**
 * Run the forward pass `f` of a gradient computation; if it throws, dispose
 * what the tape saved for the backward pass that will not run, then rethrow.
 * Call it inside the function given to `tf.engine().gradients`. Only the
 * outermost tape is released: an inner one belongs to a gradient of a
 * gradient, whose outer pass is still recording.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * const x = tf.scalar(2);
 * const before = tf.memory().numTensors;
 * try {
 *   tf.engine().gradients(() => releaseTapeOnThrow(() => {
 *     tf.square(x); // saves x for its gradient
 *     throw new Error('refused');
 *   }), [x]);
 * } catch {
 *   console.log(tf.memory().numTensors === before); // true: nothing saved is left behind
 * }
 * ```
 */
export const releaseTapeOnThrow = <T>(f: () => T): T => {
  try {
    return f();
  } catch (e) {
    const state = (tf.engine() as unknown as { state: EngineState }).state;
    if (state.gradientDepth === 1 && state.activeTape) {
      for (const node of state.activeTape) for (const t of node.saved ?? []) t.dispose();
      state.activeTape = [];
    }
    throw e;
  }
};
