/**
 * Replacing one of tfjs's registered kernels by the library's, once per
 * kernel and backend, and only once that backend's package is loaded.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';

const replaced = new Set<string>();

/**
 * Replace the stock kernel `name` on `backend` by `make(stock)`, once; a
 * no-op while the backend's package is not loaded (call again after it is).
 *
 * @example
 * ```ts
 * import { replaceKernel } from './replace_kernel.ts';
 *
 * replaceKernel('Relu', 'some-unloaded-backend', (stock) => stock); // nothing registered there: a no-op
 * ```
 */
export const replaceKernel = (name: string, backend: string, make: (stock: tf.KernelConfig) => tf.KernelConfig): void => {
  const stock = tf.getKernel(name, backend);
  if (!stock || replaced.has(`${name}/${backend}`)) return;
  tf.unregisterKernel(name, backend);
  tf.registerKernel(make(stock));
  replaced.add(`${name}/${backend}`);
};
