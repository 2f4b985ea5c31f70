/**
 * Zero-copy `Identity`, and `Cast` to the same dtype, on the wasm backend,
 * a guard on `BatchMatMul` that buffer sharing needs, and a `Slice` that
 * reads its input in place.
 * tfjs clones every tensor it saves for the backward pass through the
 * `Identity` kernel, and the gradients of `Mul` and `Relu` cast float32 to
 * float32; stock wasm copies the data each time (about 530 copies of
 * activations per training step of the chapter-14 ResNet). Tensors are
 * immutable, so sharing the buffer, as wasm's own `Reshape` and the cpu
 * backend's `Identity` do, gives the same values without the copies.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';

interface WasmBackendLike {
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): boolean;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** A new tensor sharing `x`'s buffer (reference counted by the backend). */
const share = (x: tf.TensorInfo, backend: unknown): tf.TensorInfo => {
  (backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/** A private copy of `x`'s buffer. */
const copy = (x: tf.TensorInfo, backend: WasmBackendLike): tf.TensorInfo => {
  const out = backend.makeOutput([...x.shape], x.dtype);
  backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(x));
  return out;
};

/**
 * wasm's matMul caches the packed right operand by buffer id, not by shape:
 * the same buffer used again under another shape (a reshape, or a shared
 * clone) reads a stale packing and aborts or returns garbage (reproduced with
 * stock tfjs: \`matMul(a, t)\` then \`matMul(b, reshape(t, ...))\`). The guard
 * remembers each buffer's shape as a right operand and gives a conflicting
 * use its own copy.
 */
const guardMatMul = (stock: tf.KernelConfig): tf.KernelConfig => {
  const seen = new WeakMap<object, string>();
  return {
    ...stock,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const as = `${b.shape.join(',')}|${(args.attrs as { transposeB?: boolean }).transposeB ? 't' : 'n'}`;
      const before = seen.get(b.dataId);
      if (before === undefined || before === as) {
        seen.set(b.dataId, as);
        return stock.kernelFunc(args);
      }
      const backend = args.backend as unknown as WasmBackendLike;
      const own = copy(b, backend);
      try {
        return stock.kernelFunc({ ...args, inputs: { a, b: own } });
      } finally {
        backend.disposeData(own.dataId);
      }
    },
  };
};

/**
 * wasm's stock Slice first copies its whole input out of the heap
 * (`readSync`): 1 ms to take one 256×256 tap out of a 3×3×256×256 filter.
 * This one copies only the slice, run by contiguous run, from a heap view.
 * Strings keep the stock kernel.
 */
const viewSlice = (stock: tf.KernelConfig): tf.KernelConfig => ({
  ...stock,
  kernelFunc: (args) => {
    const x = args.inputs.x!;
    if (x.dtype === 'string') return stock.kernelFunc(args);
    const a = args.attrs as { begin: number | number[]; size: number | number[] };
    const [begin, size] = tf.slice_util.parseSliceParams(x as tf.TensorInfo as tf.Tensor, a.begin, a.size);
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(size, x.dtype);
    // Views are taken after the allocation, which may grow (and replace) the heap.
    copyWindow(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
    return out;
  },
});

/** Copy the window `begin`/`size` of a row-major array of `shape` into `out`, one contiguous run at a time. */
const copyWindow = (
  src: { subarray(a: number, b: number): ArrayLike<number> },
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: { set(v: ArrayLike<number>, at: number): void; length: number },
): void => {
  if (out.length === 0) return;
  const rank = shape.length; // at least 1: tfjs refuses to slice a scalar
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, q) => p * q, 1));
  // Axes after `k` are taken whole, so each index of the axes before it starts one run of `run` values.
  let k = rank - 1;
  while (k > 0 && size[k] === shape[k]) k--;
  const run = size[k] * strides[k];
  const index = new Array(k).fill(0);
  let at = 0;
  for (;;) {
    let from = begin[k] * strides[k];
    for (let i = 0; i < k; i++) from += (begin[i] + index[i]) * strides[i];
    out.set(src.subarray(from, from + run), at);
    at += run;
    let i = k - 1;
    while (i >= 0 && ++index[i] === size[i]) index[i--] = 0;
    if (i < 0) return;
  }
};

let installed = false;

/**
 * Replace wasm's copying `Identity` and same-dtype `Cast` with buffer sharing.
 * Call after `@tensorflow/tfjs-backend-wasm` is loaded; idempotent.
 *
 * @example
 * ```ts
 * import { installWasmZeroCopy } from 'tsnn/backend';
 *
 * // After `await import('@tensorflow/tfjs-backend-wasm')` (selectBackend does both);
 * // with the wasm backend not loaded, as here, it does nothing.
 * installWasmZeroCopy();
 * ```
 */
export const installWasmZeroCopy = (): void => {
  if (installed) return;
  const identity = tf.getKernel('Identity', 'wasm'), cast = tf.getKernel('Cast', 'wasm'), matMul = tf.getKernel('BatchMatMul', 'wasm');
  const slice = tf.getKernel('Slice', 'wasm');
  if (!identity || !cast || !matMul || !slice) return; // the wasm backend is not loaded: nothing to replace
  tf.unregisterKernel('Slice', 'wasm');
  tf.registerKernel(viewSlice(slice));
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(guardMatMul(matMul));
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: ({ inputs, backend }) => share(inputs.x!, backend) });
  tf.unregisterKernel('Cast', 'wasm');
  tf.registerKernel({
    kernelName: 'Cast',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = args.inputs.x!;
      return (args.attrs as { dtype: tf.DataType }).dtype === x.dtype ? share(x, args.backend) : cast.kernelFunc(args);
    },
  });
  installed = true;
};
