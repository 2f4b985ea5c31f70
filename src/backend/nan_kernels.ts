/**
 * Kernels that keep NaN a NaN, where stock tfjs turns it into a number.
 *
 * - `Relu` and `Relu6` on wasm: XNNPACK's clamp maps a NaN whose sign bit is
 *   set (what x86 makes of ∞ − ∞ or 0·∞, e.g. in BatchNorm after an infinite
 *   pixel) to 0, so a poisoned batch trains on with a finite loss while every
 *   parameter turns NaN. Here one SIMD pass in which a NaN falls through.
 * - `MaxPool` on cpu and wasm: both skip NaN (cpu compares `>`, XNNPACK
 *   returns the window's other maximum, or -Infinity); PyTorch's max pool
 *   gives NaN for a window holding one. Here a NaN wins its window: SIMD
 *   IEEE max over groups of four channels on wasm, a loop elsewhere.
 *
 * Other dtypes keep the stock kernels.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { kernelIo } from './kernel_io.ts';
import { assembleModule, F32, forLoop, I32, instancePerMemory, op, V128 } from './wasm_asm.ts';

interface Simd {
  /** out[i] = min(max(x[i], lo), hi) over `bytes` bytes (a multiple of 16), NaN kept. */
  clamp(x: number, out: number, bytes: number, lo: number, hi: number): void;
  /** A 'valid' max pool over four-channel groups; every loop runs over byte offsets (limit, step). */
  maxPool(x: number, out: number, ...limitsAndSteps: number[]): void;
}

// clamp's params: x, out, bytes, lo, hi; locals: i, vlo, vhi.
const clamp = (() => {
  const X = 0, OUT = 1, BYTES = 2, LO = 3, HI = 4, I = 5, VLO = 6, VHI = 7;
  return {
    name: 'clamp',
    params: [I32, I32, I32, F32, F32],
    locals: [[1, I32], [2, V128]] as [number, number][],
    body: [
      ...op.get(LO), ...op.f32x4Splat, ...op.set(VLO),
      ...op.get(HI), ...op.f32x4Splat, ...op.set(VHI),
      ...forLoop(I, op.get(BYTES), op.i32Const(16), [
        ...op.get(OUT), ...op.get(I), ...op.i32Add,
        // pmax(x, lo) is `x < lo ? lo : x`, and pmin(y, hi) `hi < y ? hi : y`: a NaN x falls through both.
        ...op.get(X), ...op.get(I), ...op.i32Add, ...op.v128Load,
        ...op.get(VLO), ...op.f32x4Pmax, ...op.get(VHI), ...op.f32x4Pmin,
        ...op.v128Store,
      ]),
    ],
  };
})();

// maxPool's params: x, out, then (limit, step) in bytes for batch, output row, output column, channel group,
// window row and window column; locals: the six loop offsets, the output offset, the running addresses, acc.
const maxPool = (() => {
  const X = 0, OUT = 1, L = (i: number) => 2 + 2 * i, S = (i: number) => 3 + 2 * i;
  const V = 14, O = 20, P = 21, ACC = 26; // V..V+5: loop offsets; P..P+4: base addresses per level
  const level = (i: number, inside: number[]) =>
    forLoop(V + i, op.get(L(i)), op.get(S(i)), [
      ...(i === 0 ? op.get(X) : op.get(P + i - 1)), ...op.get(V + i), ...op.i32Add, ...op.set(P + i),
      ...inside,
    ]);
  const window = forLoop(V + 5, op.get(L(5)), op.get(S(5)), [
    ...op.get(ACC), ...op.get(P + 4), ...op.get(V + 5), ...op.i32Add, ...op.v128Load, ...op.f32x4Max, ...op.set(ACC),
  ]);
  const channel = [
    ...op.f32Const(-Infinity), ...op.f32x4Splat, ...op.set(ACC),
    ...level(4, window),
    ...op.get(O), ...op.get(ACC), ...op.v128Store,
    ...op.get(O), ...op.i32Const(16), ...op.i32Add, ...op.set(O),
  ];
  return {
    name: 'maxPool',
    params: Array(14).fill(I32),
    locals: [[12, I32], [1, V128]] as [number, number][],
    body: [...op.get(OUT), ...op.set(O), ...level(0, level(1, level(2, level(3, channel))))],
  };
})();

const simdFor = instancePerMemory<Simd>(() => assembleModule([clamp, maxPool]));

/** A wasm clamp kernel to [lo, hi] that keeps NaN, for float32 inputs; `stock` for other dtypes. */
const clampKernel = (stock: tf.KernelConfig, lo: number, hi: number): tf.KernelConfig => ({
  ...stock,
  kernelFunc: (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const io = kernelIo(args.backend);
    if (x.dtype !== 'float32' || !io?.wasm) return stock.kernelFunc(args);
    const out = io.output(x.shape);
    // Without SIMD (an engine refusing the module) the loop below does it all, NaN kept as well.
    const simd = simdFor(args.backend);
    const n = io.read(x).length, body = simd ? n - (n % 4) : 0;
    simd?.clamp(io.wasm.ptr(x), io.wasm.ptr(out), body * 4, lo, hi);
    const xs = io.read(x), ys = io.read(out);
    for (let i = body; i < n; i++) ys[i] = xs[i] !== xs[i] ? xs[i] : Math.min(Math.max(xs[i], lo), hi);
    return out;
  },
});

type PoolAttrs = {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/** A max pool (NHWC) in which a NaN wins its window, as in PyTorch; padding never wins. */
const maxPoolKernel = (stock: tf.KernelConfig): tf.KernelConfig => ({
  ...stock,
  kernelFunc: (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const io = kernelIo(args.backend);
    if (x.dtype !== 'float32' || !io) return stock.kernelFunc(args);
    const a = args.attrs as PoolAttrs;
    const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    const { batchSize: nb, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
    const { top, left } = info.padInfo;
    const out = io.output([nb, oh, ow, c]);
    const simd = io.wasm && simdFor(args.backend);
    if (simd && c % 4 === 0 && top === 0 && left === 0 && (oh - 1) * sh + fh <= h && (ow - 1) * sw + fw <= w) {
      const cb = 4 * c, row = w * cb;
      simd.maxPool(io.wasm!.ptr(x), io.wasm!.ptr(out), nb * h * row, h * row, oh * sh * row, sh * row, ow * sw * cb, sw * cb, cb, 16, fh * row, row, fw * cb, cb);
      return out;
    }
    // Views are taken after the allocation, which may grow (and replace) the wasm heap.
    const xs = io.read(x), ys = io.read(out);
    for (let b = 0, o = 0; b < nb; b++) {
      for (let i = 0; i < oh; i++) {
        const r0 = Math.max(0, i * sh - top), r1 = Math.min(h, i * sh - top + fh);
        for (let j = 0; j < ow; j++, o += c) {
          const c0 = Math.max(0, j * sw - left), c1 = Math.min(w, j * sw - left + fw);
          ys.fill(-Infinity, o, o + c);
          for (let r = r0; r < r1; r++) {
            for (let q = c0; q < c1; q++) {
              // Channels innermost: contiguous reads. Once NaN, `v > m` is false and m stays NaN.
              for (let k = 0, at = ((b * h + r) * w + q) * c; k < c; k++, at++) {
                const v = xs[at], m = ys[o + k];
                if (v > m || v !== v) ys[o + k] = v;
              }
            }
          }
        }
      }
    }
    return out;
  },
});

const installed = new Set<string>();

/** Replace the stock kernel `name` on `backend` by `make(stock)`, once. */
const replace = (name: string, backend: string, make: (stock: tf.KernelConfig) => tf.KernelConfig): void => {
  const stock = tf.getKernel(name, backend);
  if (!stock || installed.has(`${name}/${backend}`)) return; // the backend is not loaded, or done already
  tf.unregisterKernel(name, backend);
  tf.registerKernel(make(stock));
  installed.add(`${name}/${backend}`);
};

/**
 * Install the NaN-keeping kernels on the backends that are loaded
 * (idempotent; call again after loading the wasm backend).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * installNanKernels();
 * tf.maxPool(tf.tensor4d([NaN, 1, 2, 3], [1, 2, 2, 1]), 2, 2, 'valid'); // [[[[NaN]]]]
 * ```
 */
export const installNanKernels = (): void => {
  replace('Relu', 'wasm', (stock) => clampKernel(stock, 0, Infinity));
  replace('Relu6', 'wasm', (stock) => clampKernel(stock, 0, 6));
  for (const backend of ['cpu', 'wasm']) replace('MaxPool', backend, maxPoolKernel);
};
