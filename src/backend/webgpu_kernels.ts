/**
 * Kernels mended on tfjs's WebGPU backend. Its AddN binds every input as a
 * storage buffer of one shader, so a sum of more inputs than the device's
 * `maxStorageBuffersPerShaderStage` (8 on many adapters) makes an invalid
 * pipeline, and the GPU then drops the whole command buffer: every value of
 * that step comes back stale, with no error. Sums of many tensors are common
 * here: the finite check over a train state, a global gradient norm, the
 * k×k taps of a pooling gradient. The mended AddN sums in chunks that fit.
 *
 * @module
 */
import type * as tf from '../tfjs/tf.ts';
import { replaceKernel } from './replace_kernel.ts';

/**
 * tfjs-core's kernel types under private aliases: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); an `@ignore`d alias silences just that.
 *
 * @ignore
 */
type TensorInfo = tf.TensorInfo;

interface WebGpuBackendLike {
  readonly device: { readonly limits: { readonly maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: object): boolean;
}

/**
 * The sum of `inputs` with no call of `add` given more than `limit` of them:
 * chunks of `limit` are summed, then the chunk sums, and so on.
 *
 * @example
 * ```ts
 * import { chunkedSum } from './webgpu_kernels.ts';
 *
 * const calls: number[][] = [];
 * const sum = chunkedSum([1, 2, 3, 4, 5], 2, (xs) => (calls.push(xs), xs.reduce((a, b) => a + b)), () => {});
 * console.log(sum, calls.every((c) => c.length <= 2)); // 15 true
 * ```
 */
export const chunkedSum = <T>(inputs: readonly T[], limit: number, add: (xs: T[]) => T, release: (made: T) => void): T => {
  let level = [...inputs];
  const made = new Set<T>();
  while (level.length > limit) {
    const next: T[] = [];
    for (let i = 0; i < level.length; i += limit) {
      const chunk = level.slice(i, i + limit);
      const s = chunk.length === 1 ? chunk[0] : add(chunk);
      if (chunk.length > 1) made.add(s);
      next.push(s);
    }
    level = next;
  }
  const out = add(level);
  made.forEach(release);
  return out;
};

/**
 * Replace the webgpu backend's AddN by one that sums in chunks within the
 * device's storage-buffer limit (once; nothing before tfjs-backend-webgpu is loaded).
 *
 * @example
 * ```ts
 * import { installWebGpuAddN } from './webgpu_kernels.ts';
 *
 * installWebGpuAddN(); // selectBackend({ backend: 'webgpu' }) calls it once the backend is loaded
 * ```
 */
export const installWebGpuAddN = (): void =>
  replaceKernel('AddN', 'webgpu', (stock) => ({
    ...stock,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const gpu = backend as unknown as WebGpuBackendLike;
      // One binding is the output's.
      const limit = Math.max(2, gpu.device.limits.maxStorageBuffersPerShaderStage - 1);
      const add = (xs: TensorInfo[]) => stock.kernelFunc({ inputs: xs as unknown as tf.NamedTensorInfoMap, backend, attrs }) as TensorInfo;
      return chunkedSum(inputs as unknown as TensorInfo[], limit, add, (t) => gpu.disposeData(t.dataId));
    },
  }));
