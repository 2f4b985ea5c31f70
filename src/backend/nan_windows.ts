/**
 * Convolution and average pooling on wasm where an input is NaN or infinite.
 * XNNPACK's output clamp turns such results into -Infinity in some of its
 * micro-kernels (convolutions with one channel, every average pool), and a
 * ReLU after that gives 0: a NaN in, a finite number out. These kernels run
 * the stock one, and only when the input (or filter, or bias) holds a value
 * that is not finite, which one SIMD pass tells, recompute exactly, in JS,
 * the outputs whose window reaches such a value.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { tensorIsFinite } from './finite_kernel.ts';
import { type KernelIo, kernelIo } from './kernel_io.ts';

type Info = tf.TensorInfo;
type Activation = (v: number) => number;

/** The fused activations recomputed here, each keeping NaN; others (prelu) keep the stock result. */
const ACTIVATIONS: Record<string, (alpha: number) => Activation> = {
  linear: () => (v) => v,
  relu: () => (v) => (v < 0 ? 0 : v),
  relu6: () => (v) => (v < 0 ? 0 : v > 6 ? 6 : v),
  leakyrelu: (a) => (v) => (v < 0 ? a * v : v),
  elu: () => (v) => (v < 0 ? Math.exp(v) - 1 : v),
  sigmoid: () => (v) => 1 / (1 + Math.exp(-v)),
};

/**
 * A `Conv2D` attr that skips the recomputation: the gradient convolutions
 * (`conv_grad.ts`) set it. They have no activation, so XNNPACK's clamp can
 * only turn a NaN into ±Infinity, still not finite; the update carries it
 * into the params, where `fit`'s guard sees it. The probes would otherwise
 * read both operands of every backward convolution: about 6M floats a step
 * of the two-ResBlocks model at batch 64, a third of all the engine's probes.
 */
export const NON_FINITE_AS_STOCK = 'tsnnNonFiniteAsStock';

/** Per input position (b, r, q): whether any of its channels is not finite. */
const badPositions = (xs: Float32Array, positions: number, c: number): Uint8Array => {
  const bad = new Uint8Array(positions);
  for (let p = 0, o = 0; p < positions; p++) {
    let acc = 0;
    for (let k = 0; k < c; k++, o++) acc += xs[o] * 0;
    bad[p] = acc === 0 ? 0 : 1;
  }
  return bad;
};

const finite = (io: KernelIo, backend: unknown, ...ts: (Info | undefined)[]): boolean => ts.every((t) => t === undefined || tensorIsFinite(io, backend, t));

/** Conv2D and FusedConv2D (NHWC): the stock result, with the outputs a non-finite input reaches recomputed. */
const convKernel = (stock: tf.KernelConfig): tf.KernelConfig => ({
  ...stock,
  kernelFunc: (args) => {
    const { x, filter, bias } = args.inputs as { x: Info; filter: Info; bias?: Info };
    const a = args.attrs as {
      strides: number | [number, number];
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dataFormat?: string;
      dilations?: number | [number, number];
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      activation?: string;
      leakyreluAlpha?: number;
    };
    const io = kernelIo(args.backend);
    const act = ACTIVATIONS[a.activation ?? 'linear'];
    const y = stock.kernelFunc(args) as Info;
    if (!io?.wasm || x.dtype !== 'float32' || (a.dataFormat ?? 'NHWC') !== 'NHWC' || !act || (args.attrs as tf.NamedAttrMap)[NON_FINITE_AS_STOCK]) return y;
    const filterOk = finite(io, args.backend, filter, bias);
    if (filterOk && finite(io, args.backend, x)) return y;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      a.strides,
      a.dilations ?? 1,
      a.pad,
      a.dimRoundingMode,
    );
    const { batchSize: nb, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
    const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
    const { top, left } = info.padInfo;
    const f = act(a.leakyreluAlpha ?? 0.2);
    const xs = io.read(x), ws = io.read(filter), bs = bias ? io.read(bias) : undefined, ys = io.read(y);
    const bad = badPositions(xs, nb * h * w, ci);
    const acc = new Float64Array(co);
    for (let b = 0; b < nb; b++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          let reached = !filterOk;
          for (let kh = 0; kh < fh && !reached; kh++) {
            const r = i * sh - top + kh * dh;
            if (r < 0 || r >= h) continue;
            for (let kw = 0; kw < fw && !reached; kw++) {
              const q = j * sw - left + kw * dw;
              if (q >= 0 && q < w && bad[(b * h + r) * w + q]) reached = true;
            }
          }
          if (!reached) continue;
          for (let o = 0; o < co; o++) acc[o] = bs ? bs[bs.length === 1 ? 0 : o] : 0;
          for (let kh = 0; kh < fh; kh++) {
            const r = i * sh - top + kh * dh;
            if (r < 0 || r >= h) continue;
            for (let kw = 0; kw < fw; kw++) {
              const q = j * sw - left + kw * dw;
              if (q < 0 || q >= w) continue;
              for (let k = 0; k < ci; k++) {
                const v = xs[((b * h + r) * w + q) * ci + k], wrow = ((kh * fw + kw) * ci + k) * co;
                for (let o = 0; o < co; o++) acc[o] += v * ws[wrow + o];
              }
            }
          }
          const out = ((b * oh + i) * ow + j) * co;
          for (let o = 0; o < co; o++) ys[out + o] = f(acc[o]);
        }
      }
    }
    return y;
  },
});

/** The attrs of tfjs's `MaxPool` and `AvgPool` kernels. */
type PoolAttrs = {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/**
 * The window geometry of a `MaxPool` or `AvgPool` call (NHWC), as tfjs computes it.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 *
 * const info = poolInfo({ shape: [1, 4, 4, 1] } as tf.TensorInfo, { filterSize: 2, strides: 2, pad: 'valid' });
 * console.log(info.outHeight); // 2
 * ```
 */
export const poolInfo = (x: Info, attrs: tf.NamedAttrMap | undefined): tf.backend_util.Conv2DInfo => {
  const a = attrs as unknown as PoolAttrs;
  return tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
};

/** AvgPool (NHWC): the stock result, with the windows that hold a non-finite value recomputed (padding excluded, as stock). */
const avgPoolKernel = (stock: tf.KernelConfig): tf.KernelConfig => ({
  ...stock,
  kernelFunc: (args) => {
    const x = args.inputs.x as Info;
    const io = kernelIo(args.backend);
    const y = stock.kernelFunc(args) as Info;
    if (!io?.wasm || x.dtype !== 'float32' || finite(io, args.backend, x)) return y;
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
    const xs = io.read(x), ys = io.read(y);
    for (let b = 0, o = 0; b < nb; b++) {
      for (let i = 0; i < oh; i++) {
        const r0 = Math.max(0, i * sh - top), r1 = Math.min(h, i * sh - top + fh);
        for (let j = 0; j < ow; j++, o += c) {
          const q0 = Math.max(0, j * sw - left), q1 = Math.min(w, j * sw - left + fw);
          for (let k = 0; k < c; k++) {
            let sum = 0, probe = 0;
            for (let r = r0; r < r1; r++) {
              for (let q = q0; q < q1; q++) {
                const v = xs[((b * h + r) * w + q) * c + k];
                sum += v;
                probe += v * 0;
              }
            }
            if (probe !== 0) ys[o + k] = sum / ((r1 - r0) * (q1 - q0));
          }
        }
      }
    }
    return y;
  },
});

/**
 * The kernels this module wraps, by name, for `installNanKernels`.
 *
 * @example
 * ```ts
 * console.log(Object.keys(NAN_WINDOW_KERNELS)); // ['Conv2D', 'FusedConv2D', 'AvgPool']
 * ```
 */
export const NAN_WINDOW_KERNELS: Record<string, (stock: tf.KernelConfig) => tf.KernelConfig> = {
  Conv2D: convKernel,
  FusedConv2D: convKernel,
  AvgPool: avgPoolKernel,
};
