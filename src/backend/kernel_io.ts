/**
 * Float32 tensor memory as the library's own kernels see it, on the wasm and
 * cpu backends: views of inputs, and outputs to fill in place. On wasm the
 * views are windows on the backend's heap (so SIMD functions can work on the
 * same bytes through `ptr`); on cpu they are the backend's own arrays.
 *
 * @module
 */
import type * as tf from '../tfjs/tf.ts';

/**
 * tfjs-core's tensor record under a private alias: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); an `@ignore`d alias silences just that.
 *
 * @ignore
 */
type Info = tf.TensorInfo;

interface WasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  disposeData(id: object): boolean;
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  wasm: { HEAPF32: Float32Array; _malloc(bytes: number): number; _free(ptr: number): void };
}
interface CpuLike {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): Info;
  data: { get(id: object): { values: Float32Array } | undefined };
}

/** Reading and writing float32 tensors from inside a kernel. */
export interface KernelIo {
  /** The values of a tensor (a view: do not keep it across allocations). */
  read(t: Info): Float32Array;
  /** Allocate a float32 output; fill it through {@link KernelIo.read}. */
  output(shape: readonly number[]): Info;
  /** Present on wasm: byte offsets in the heap, and freeing scratch outputs. */
  readonly wasm?: {
    ptr(t: Info): number;
    dispose(t: Info): void;
    /**
     * The byte offset of a scratch area of at least `floats` floats in the heap, kept (and grown) per backend:
     * small vectors for SIMD functions without an allocation per call. Its contents last until the next kernel.
     */
    scratch(floats: number): number;
    /** A view of `floats` floats at byte offset `ptr` (taken after any allocation). */
    floats(ptr: number, floats: number): Float32Array;
  };
}

const scratchAreas = new WeakMap<object, { ptr: number; floats: number }>();

const size = (t: { shape: readonly number[] }) => t.shape.reduce((a, s) => a * s, 1);

/**
 * The kernel I/O of a wasm or cpu backend; undefined for any other backend.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { kernelIo } from 'tsnn/backend';
 *
 * // What a kernel body does: read its input, fill its output in place (here on cpu).
 * const x = tf.tensor([1, 2, 3]);
 * const io = kernelIo(tf.backend())!;
 * const yInfo = io.output(x.shape);
 * io.read(yInfo).set(io.read(x).map((v) => 2 * v));
 * const y = tf.engine().makeTensorFromTensorInfo(yInfo);
 * console.log(Array.from(y.dataSync())); // [2, 4, 6]
 * ```
 */
export const kernelIo = (backend: unknown): KernelIo | undefined => {
  const w = backend as Partial<WasmLike>;
  if (w.dataIdMap && w.wasm?.HEAPF32 && typeof w.makeOutput === 'function') {
    const b = backend as WasmLike;
    const ptr = (t: Info) => b.dataIdMap.get(t.dataId)!.memoryOffset;
    return {
      // The heap is read at each call: malloc may grow (and replace) it.
      read: (t) => b.wasm.HEAPF32.subarray(ptr(t) >> 2, (ptr(t) >> 2) + size(t)),
      output: (shape) => b.makeOutput([...shape], 'float32'),
      wasm: {
        ptr,
        dispose: (t) => void b.disposeData(t.dataId),
        scratch(floats) {
          let area = scratchAreas.get(b);
          if (!area || area.floats < floats) {
            if (area) b.wasm._free(area.ptr);
            area = { ptr: b.wasm._malloc(floats * 4), floats };
            scratchAreas.set(b, area);
          }
          return area.ptr;
        },
        floats: (at, floats) => b.wasm.HEAPF32.subarray(at >> 2, (at >> 2) + floats),
      },
    };
  }
  const c = backend as Partial<CpuLike>;
  if (c.data && typeof c.makeTensorInfo === 'function') {
    const b = backend as CpuLike;
    return {
      read: (t) => b.data.get(t.dataId)!.values,
      // The cpu backend keeps the array it is given, so filling it fills the tensor.
      output: (shape) => b.makeTensorInfo([...shape], 'float32', new Float32Array(size({ shape }))),
    };
  }
  return undefined;
};
