/**
 * Kernels that keep NaN a NaN, where stock tfjs turns it into a number.
 *
 * - `Relu` and `Relu6` on wasm: XNNPACK's clamp maps a NaN whose sign bit is
 *   set (what x86 makes of ∞ − ∞ or 0·∞, e.g. in BatchNorm after an infinite
 *   pixel) to 0, so a poisoned batch trains on with a finite loss while every
 *   parameter turns NaN. Here one SIMD pass in which a NaN falls through.
 * - `MaxPool` on cpu and wasm: both skip NaN (cpu compares `>`, XNNPACK
 *   returns the window's other maximum, or -Infinity); PyTorch's max pool
 *   gives NaN for a window holding one. Here a NaN wins its window: on wasm
 *   a SIMD pass over groups of four channels per window geometry, a loop elsewhere.
 *
 * - `Conv2D`, `FusedConv2D` and `AvgPool` on wasm, where XNNPACK gives
 *   -Infinity for a NaN: see `nan_windows.ts`.
 *
 * Other dtypes keep the stock kernels.
 *
 * @module
 */
import type * as tf from '../tfjs/tf.ts';
import { markFinite } from './finite_marks.ts';
import { kernelIo } from './kernel_io.ts';
import { NAN_WINDOW_KERNELS, poolInfo } from './nan_windows.ts';
import { replaceKernel } from './replace_kernel.ts';
import { assembleModule, F32, forLoop, I32, instancePerMemory, op, V128, type WasmFunction } from './wasm_asm.ts';

interface Simd {
  /**
   * out[i] = min(max(x[i], lo), hi) over `bytes` bytes (a multiple of 64), NaN kept; stores Σ x·0,
   * lane by lane, at `sum` (all zero exactly when every x is finite).
   */
  clamp(x: number, out: number, bytes: number, lo: number, hi: number, sum: number): void;
  /** A 'valid' max pool over four-channel groups; each loop runs over byte offsets (limit, step). */
  maxPool(x: number, out: number, ...limitsAndSteps: number[]): void;
}

// clamp's params: x, out, bytes, lo, hi, sum; locals: i, vlo, vhi, acc, zero, v. Four vectors per turn of
// the loop: one per turn ran at 0.6x XNNPACK's speed, the loop's own instructions outnumbering the work.
// The finiteness sum costs no memory traffic (the values are in registers) and marks the output finite,
// sparing the next convolution its probe.
const UNROLL = 4;
const clamp = (() => {
  const X = 0, OUT = 1, BYTES = 2, LO = 3, HI = 4, SUM = 5, I = 6, VLO = 7, VHI = 8, ACC = 9, ZERO = 10, V = 11;
  const one = (k: number) => [
    ...op.get(OUT),
    ...op.get(I),
    ...op.i32Add,
    // pmax(x, lo) is `x < lo ? lo : x`, and pmin(y, hi) `hi < y ? hi : y`: a NaN x falls through both.
    ...op.get(X),
    ...op.get(I),
    ...op.i32Add,
    ...op.v128LoadAt(16 * k),
    ...op.tee(V),
    ...op.get(VLO),
    ...op.f32x4Pmax,
    ...op.get(VHI),
    ...op.f32x4Pmin,
    ...op.v128StoreAt(16 * k),
    ...op.get(ACC),
    ...op.get(V),
    ...op.get(ZERO),
    ...op.f32x4Mul,
    ...op.f32x4Add,
    ...op.set(ACC),
  ];
  return {
    name: 'clamp',
    params: [I32, I32, I32, F32, F32, I32],
    locals: [[1, I32], [5, V128]] as [number, number][],
    body: [
      ...op.get(LO),
      ...op.f32x4Splat,
      ...op.set(VLO),
      ...op.get(HI),
      ...op.f32x4Splat,
      ...op.set(VHI),
      ...op.v128Zero,
      ...op.set(ACC),
      ...op.v128Zero,
      ...op.set(ZERO),
      ...forLoop(I, op.get(BYTES), op.i32Const(16 * UNROLL), Array.from({ length: UNROLL }, (_, k) => one(k)).flat()),
      ...op.get(SUM),
      ...op.get(ACC),
      ...op.v128Store,
    ],
  };
})();

/**
 * A 'valid' max pool over four-channel groups for one window geometry: the
 * window's taps are unrolled, each a load at a constant offset (`taps`, in
 * bytes), so only batch, output row, output column and channel group loop.
 * A loop over the taps as well ran at a third of XNNPACK's speed.
 * Params: x, out, then (limit, step) in bytes for those four loops.
 */
const maxPoolFor = (taps: readonly number[]): WasmFunction => {
  const X = 0, OUT = 1, L = (i: number) => 2 + 2 * i, S = (i: number) => 3 + 2 * i;
  const V = 10, O = 14, P = 15, ACC = 19, NANS = 20, TAP = 21; // V..V+3: loop offsets; P..P+3: base addresses per level
  const level = (i: number, inside: number[]) =>
    forLoop(V + i, op.get(L(i)), op.get(S(i)), [
      ...(i === 0 ? op.get(X) : op.get(P + i - 1)),
      ...op.get(V + i),
      ...op.i32Add,
      ...op.set(P + i),
      ...inside,
    ]);
  // pmax (one instruction, where IEEE max takes several) drops a NaN tap; `tap != tap` remembers it, and
  // OR-ing that all-ones mask into the result makes those lanes NaN.
  const channel = [
    ...op.get(P + 3),
    ...op.v128LoadAt(taps[0]),
    ...op.tee(ACC),
    ...op.get(ACC),
    ...op.f32x4Ne,
    ...op.set(NANS),
    ...taps.slice(1).flatMap((t) => [
      ...op.get(P + 3),
      ...op.v128LoadAt(t),
      ...op.set(TAP),
      ...op.get(ACC),
      ...op.get(TAP),
      ...op.f32x4Pmax,
      ...op.set(ACC),
      ...op.get(NANS),
      ...op.get(TAP),
      ...op.get(TAP),
      ...op.f32x4Ne,
      ...op.v128Or,
      ...op.set(NANS),
    ]),
    ...op.get(O),
    ...op.get(ACC),
    ...op.get(NANS),
    ...op.v128Or,
    ...op.v128Store,
    ...op.get(O),
    ...op.i32Const(16),
    ...op.i32Add,
    ...op.set(O),
  ];
  return {
    name: 'maxPool',
    params: Array(10).fill(I32),
    locals: [[9, I32], [3, V128]],
    body: [...op.get(OUT), ...op.set(O), ...level(0, level(1, level(2, level(3, channel))))],
  };
};

/** Assembled max pools by window geometry; a model has a few, so the first 64 are kept. */
const maxPools = new Map<string, (backend: unknown) => Pick<Simd, 'maxPool'> | null>();
const maxPoolKernelFor = (fh: number, fw: number, row: number, cb: number) => {
  const key = `${fh}x${fw}/${row}/${cb}`;
  let k = maxPools.get(key);
  if (!k) {
    const taps = Array.from({ length: fh * fw }, (_, t) => Math.floor(t / fw) * row + (t % fw) * cb);
    k = instancePerMemory((memory) => assembleModule([maxPoolFor(taps)], memory));
    if (maxPools.size < 64) maxPools.set(key, k);
  }
  return k;
};

const simdFor = instancePerMemory<Pick<Simd, 'clamp'>>((memory) => assembleModule([clamp], memory));

/**
 * A wasm clamp kernel to [lo, hi] that keeps NaN, for float32 inputs; `stock` for other dtypes.
 * A finite input gives a finite output, and both are marked finite.
 */
const clampKernel = (stock: tf.KernelConfig, lo: number, hi: number): tf.KernelConfig => ({
  ...stock,
  kernelFunc: (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const io = kernelIo(args.backend);
    if (x.dtype !== 'float32' || !io?.wasm) return stock.kernelFunc(args);
    const out = io.output(x.shape);
    // Without SIMD (an engine refusing the module) the loop below does it all, NaN kept as well.
    const simd = simdFor(args.backend);
    const n = io.read(x).length, body = simd ? n - (n % (4 * UNROLL)) : 0;
    let sum = 0;
    if (simd) {
      const lanes = io.wasm.scratch(4);
      simd.clamp(io.wasm.ptr(x), io.wasm.ptr(out), body * 4, lo, hi, lanes);
      const v = io.wasm.floats(lanes, 4);
      sum = v[0] + v[1] + v[2] + v[3];
    }
    const xs = io.read(x), ys = io.read(out);
    for (let i = body; i < n; i++) {
      ys[i] = xs[i] !== xs[i] ? xs[i] : Math.min(Math.max(xs[i], lo), hi);
      sum += xs[i] * 0;
    }
    if (sum === 0) [x, out].forEach(markFinite);
    return out;
  },
});

/** A max pool (NHWC) in which a NaN wins its window, as in PyTorch; padding never wins. */
const maxPoolKernel = (stock: tf.KernelConfig): tf.KernelConfig => ({
  ...stock,
  kernelFunc: (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const io = kernelIo(args.backend);
    if (x.dtype !== 'float32' || !io) return stock.kernelFunc(args);
    const info = poolInfo(x, args.attrs);
    const {
      batchSize: nb,
      inHeight: h,
      inWidth: w,
      inChannels: c,
      outHeight: oh,
      outWidth: ow,
      filterHeight: fh,
      filterWidth: fw,
      strideHeight: sh,
      strideWidth: sw,
    } = info;
    const { top, left } = info.padInfo;
    const out = io.output([nb, oh, ow, c]);
    const cb = 4 * c, row = w * cb;
    const inside = c % 4 === 0 && top === 0 && left === 0 && (oh - 1) * sh + fh <= h && (ow - 1) * sw + fw <= w;
    const simd = io.wasm && inside && fh * fw <= 64 ? maxPoolKernelFor(fh, fw, row, cb)(args.backend) : null;
    if (simd) {
      simd.maxPool(io.wasm!.ptr(x), io.wasm!.ptr(out), nb * h * row, h * row, oh * sh * row, sh * row, ow * sw * cb, sw * cb, cb, 16);
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

/**
 * Install the NaN-keeping kernels on the backends that are loaded
 * (idempotent; call again after loading the wasm backend).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 *
 * installNanKernels();
 * console.log(tf.maxPool(tf.tensor4d([NaN, 1, 2, 3], [1, 2, 2, 1]), 2, 2, 'valid').dataSync()[0]); // NaN (stock cpu gives 3)
 * ```
 */
export const installNanKernels = (): void => {
  replaceKernel('Relu', 'wasm', (stock) => clampKernel(stock, 0, Infinity));
  replaceKernel('Relu6', 'wasm', (stock) => clampKernel(stock, 0, 6));
  for (const backend of ['cpu', 'wasm']) replaceKernel('MaxPool', backend, maxPoolKernel);
  for (const [name, make] of Object.entries(NAN_WINDOW_KERNELS)) replaceKernel(name, 'wasm', make);
};
