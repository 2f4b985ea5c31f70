/**
 * Tensors saved for the backward pass, without a kernel each. tfjs keeps
 * every tensor a gradient needs by `engine.clone`, which runs the `Identity`
 * kernel and records a tape node: 263 of the 857 ops of a training step of
 * the chapter-14 two-ResBlocks model, each paying the engine's dispatch
 * (about 10 µs). On wasm and cpu `Identity` only shares the buffer anyway,
 * so the clone here shares it directly: a new tensor on the same data,
 * reference counted by the backend as before, disposed by the tape as before.
 *
 * The tape node matters only to a gradient of a gradient (the outer pass
 * differentiates through what the inner one saved), so clones made at any
 * tape depth but the first, and on other backends, take tfjs's own path.
 * `test/saved_tensors.test.ts` pins the engine code this relies on.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';

interface BackendLike {
  incRef(dataId: object): void;
}
interface EngineLike {
  clone(x: tf.Tensor): tf.Tensor;
  backendName: string;
  readonly backend: BackendLike;
  state: { gradientDepth: number; tensorInfo: WeakMap<object, { backend: unknown }> };
  makeTensorFromTensorInfo(info: tf.TensorInfo, backend: unknown): tf.Tensor;
}

/** Backends whose `Identity` shares the buffer (wasm's through `installWasmZeroCopy`). */
const SHARING = new Set(['wasm', 'cpu']);

const patched = new WeakSet<object>();

/**
 * Make tfjs's engine save tensors for the backward pass by sharing their
 * buffers, without running a kernel (wasm and cpu, first-order gradients).
 * Idempotent.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { installSavedTensorSharing } from 'tsnn/backend';
 *
 * installSavedTensorSharing(); // installEngine does it
 * const x = tf.tensor([1, 2, 3]);
 * const { kernels } = await tf.profile(() => tf.grad((t: tf.Tensor) => tf.sum(tf.square(t)))(x));
 * console.log(kernels.some((k) => k.name === 'Identity')); // false: square's input is saved without a clone
 * ```
 */
export const installSavedTensorSharing = (): void => {
  const engine = tf.engine() as unknown as EngineLike;
  if (patched.has(engine)) return;
  const stock = engine.clone.bind(engine);
  engine.clone = (x) => {
    const owner = engine.state.tensorInfo.get(x.dataId)?.backend;
    if (engine.state.gradientDepth !== 1 || !SHARING.has(engine.backendName) || owner !== engine.backend || x.dtype === 'string' || x.dtype === 'complex64') {
      return stock(x);
    }
    engine.backend.incRef(x.dataId);
    return engine.makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype }, engine.backend);
  };
  patched.add(engine);
};
