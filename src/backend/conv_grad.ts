/**
 * Conv2D's gradients written as forward convolutions, registered with tfjs's
 * public `registerGradient`. The wasm backend has no Conv2DBackpropFilter
 * kernel (tfjs #8474) and a slow Conv2DBackpropInput; forward convs are fast
 * on every backend.
 *
 * - dx: a stride-1 conv of the zero-dilated, padded dy with the filter rotated
 *   180° and its in/out channels swapped.
 * - dW: a conv of xᵀ (channels as batch) with dyᵀ as the filter, dilated by the stride.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { zeroInterleave } from './zero_interleave.ts';
import { extendGradient } from './extend_gradient.ts';
import { kernelIo } from './kernel_io.ts';
import { NON_FINITE_AS_STOCK } from './nan_windows.ts';

type Pads = { top: number; bottom: number; left: number; right: number };

const pair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);

type ExplicitPads = [[0, 0], [number, number], [number, number], [0, 0]];

/**
 * Spatial padding of `[n, h, w, c]` for a conv to apply itself (XNNPACK pads
 * inside the conv, so no padded copy is made), where a negative pad crops
 * instead: the (rarely) cropped tensor and the conv's explicit pads.
 */
const convPads = (t: tf.Tensor4D, top: number, bottom: number, left: number, right: number): [tf.Tensor4D, ExplicitPads] => {
  const [n, h, w, c] = t.shape;
  const ct = Math.max(0, -top), cb = Math.max(0, -bottom), cl = Math.max(0, -left), cr = Math.max(0, -right);
  const cropped = ct + cb + cl + cr ? tf.slice(t, [0, ct, cl, 0], [n, h - ct - cb, w - cl - cr, c]) : t;
  return [cropped, [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]]];
};

/** The n×n matrix with ones on the anti-diagonal: multiplying by it reverses rows. */
const antiIdentity = (n: number): tf.Tensor2D => {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + (n - 1 - i)] = 1;
  return tf.tensor2d(m, [n, n]);
};

const REVERSE_TAPS = 'TsnnReverseTaps';

/** The taps of a `[kh, kw, ci, co]` filter in reverse order: one contiguous block copy per tap (wasm and cpu). */
const reverseTapsKernel = ({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo => {
  const w = inputs.w as tf.TensorInfo;
  const [kh, kw, ci, co] = w.shape, taps = kh * kw, block = ci * co;
  const io = kernelIo(backend)!;
  const out = io.output(w.shape);
  const src = io.read(w), dst = io.read(out);
  for (let t = 0; t < taps; t++) dst.set(src.subarray((taps - 1 - t) * block, (taps - t) * block), t * block);
  return out;
};
for (const backendName of ['wasm', 'cpu']) {
  if (!tf.getKernel(REVERSE_TAPS, backendName)) tf.registerKernel({ kernelName: REVERSE_TAPS, backendName, kernelFunc: reverseTapsKernel as tf.KernelFunc });
}

/**
 * The filter rotated 180° with in/out channels swapped: `[kh, kw, ci, co]` to
 * `[kh, kw, co, ci]`. The taps are reversed by block copies (one kernel on
 * wasm and cpu; elsewhere, as on tfjs-node, by a permutation matmul, since
 * wasm's Reverse and Gather are slow and a matmul is fast everywhere), then
 * the channels are swapped by the backend's transpose.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { rotate180 } from 'tsnn/backend';
 *
 * const w = tf.tensor4d([1, 2, 3, 4], [2, 2, 1, 1]) as tf.Tensor4D; // [kh, kw, ci, co]
 * console.log(Array.from(rotate180(w).dataSync())); // [4, 3, 2, 1]
 * ```
 */
export const rotate180 = (w: tf.Tensor4D): tf.Tensor4D =>
  tf.tidy(() => {
    const [kh, kw, ci, co] = w.shape;
    const taps = kh * kw;
    const flipped = taps === 1
      ? w
      : w.dtype === 'float32' && tf.getKernel(REVERSE_TAPS, tf.getBackend())
      ? tf.engine().runKernel(REVERSE_TAPS, { w }) as tf.Tensor4D
      : tf.reshape(tf.matMul(antiIdentity(taps), tf.reshape(w, [taps, ci * co])), [kh, kw, ci, co]);
    return tf.transpose(flipped, [0, 1, 3, 2]) as tf.Tensor4D;
  });

/** A stride-1 NHWC convolution for a gradient: tf.conv2d, with NaN windows left to the stock kernel (see the attr). */
const gradientConv = (x: tf.Tensor4D, filter: tf.Tensor4D, pad: ExplicitPads, dilations: number | [number, number] = 1): tf.Tensor4D =>
  // A window that lies wholly in the padding leaves nothing to read, and the sum is 0; WebGPU cannot even bind
  // the empty input (it drops the whole command buffer), so the zeros are made here.
  x.size === 0
    ? tf.zeros(tf.backend_util.computeConv2DInfo(x.shape, filter.shape, 1, dilations, pad, undefined, false, 'channelsLast').outShape)
    : tf.engine().runKernel(
      'Conv2D',
      { x, filter },
      { strides: 1, pad, dataFormat: 'NHWC', dilations, [NON_FINITE_AS_STOCK]: true } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor4D;

/**
 * Gradient of `conv2d(x, w, strides, pads)` with respect to `x`, as a forward conv.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { conv2dInputGrad } from 'tsnn/backend';
 *
 * const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
 * const w = tf.ones([3, 3, 1, 2]) as tf.Tensor4D;
 * const dy = tf.ones([1, 2, 2, 2]) as tf.Tensor4D; // conv2d(x, w, stride 2, pad 1) is [1, 2, 2, 2]
 * const dx = conv2dInputGrad(dy, w, x.shape, [2, 2], { top: 1, bottom: 1, left: 1, right: 1 });
 * const ref = tf.grad((x) => tf.sum(tf.conv2d(x as tf.Tensor4D, w, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])))(x);
 * console.log(dx.shape, tf.max(tf.abs(tf.sub(dx, ref))).dataSync()[0]); // [1, 4, 4, 1] 0
 * ```
 */
export const conv2dInputGrad = (
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  xShape: readonly number[],
  [sh, sw]: [number, number],
  p: Pads,
): tf.Tensor4D =>
  tf.tidy(() => {
    const [kh, kw] = w.shape;
    const [, h, wd] = xShape;
    const [, oh, ow] = dy.shape;
    const rot = rotate180(w);
    // dy zero-interleaved; its trailing zeros are absorbed into the conv's padding.
    const d = zeroInterleave(dy, sh, sw);
    // Pads such that a stride-1 correlation gives exactly [h, w]; a negative pad crops. The
    // spread already ends in s - 1 zero rows and columns.
    const top = kh - 1 - p.top, left = kw - 1 - p.left;
    const bottom = h - 1 - (oh - 1) * sh + p.top - (sh - 1), right = wd - 1 - (ow - 1) * sw + p.left - (sw - 1);
    const [input, pads] = convPads(d, top, bottom, left, right);
    return gradientConv(input, rot, pads);
  });

/**
 * Gradient of `conv2d(x, w, strides, pads)` with respect to `w`, as a forward conv.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { conv2dFilterGrad } from 'tsnn/backend';
 *
 * const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
 * const w = tf.ones([3, 3, 1, 2]) as tf.Tensor4D;
 * const dy = tf.ones([1, 4, 4, 2]) as tf.Tensor4D; // conv2d(x, w, stride 1, pad 1) is [1, 4, 4, 2]
 * const dw = conv2dFilterGrad(x, dy, w.shape, [1, 1], { top: 1, bottom: 1, left: 1, right: 1 });
 * const ref = tf.grad((w) => tf.sum(tf.conv2d(x, w as tf.Tensor4D, 1, [[0, 0], [1, 1], [1, 1], [0, 0]])))(w);
 * console.log(dw.shape, tf.max(tf.abs(tf.sub(dw, ref))).dataSync()[0]); // [3, 3, 1, 2] 0
 * ```
 */
export const conv2dFilterGrad = (
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  wShape: readonly number[],
  [sh, sw]: [number, number],
  p: Pads,
): tf.Tensor4D =>
  tf.tidy(() => {
    const [kh, kw, ci, co] = wShape;
    const [, h, w] = x.shape;
    const [, oh, ow] = dy.shape;
    if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && p.top + p.bottom + p.left + p.right === 0) {
      // 1×1: a single matmul, xᵀ · dy over all positions.
      const xm = tf.transpose(tf.reshape(x, [-1, ci]));
      return tf.reshape(tf.matMul(xm, tf.reshape(dy, [-1, co])), [1, 1, ci, co]) as tf.Tensor4D;
    }
    // Exactly the window the conv reads: padded (by the conv), or cropped of rows and columns it never reaches.
    const needH = (oh - 1) * sh + kh, needW = (ow - 1) * sw + kw;
    const [xs, pads] = convPads(x, p.top, needH - h - p.top, p.left, needW - w - p.left);
    const xt = tf.transpose(xs, [3, 1, 2, 0]) as tf.Tensor4D; // [ci, h, w, n], cropped
    const f = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [oh, ow, n, co]
    const g = gradientConv(xt, f, pads, [sh, sw]); // [ci, kh, kw, co]
    return tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D;
  });

/**
 * Register the forward-conv gradients for `Conv2D` (all backends). Dilated
 * convs and NCHW keep tfjs's own gradient.
 *
 * @example
 * ```ts
 * import { installConvGradients } from 'tsnn/backend';
 *
 * installConvGradients(); // once, before training (selectBackend does it); idempotent
 * ```
 */
export const installConvGradients: () => void = extendGradient('Conv2D', ['x', 'filter'], (stock) => (dy, saved, attrs) => {
  const [x, w] = saved as [tf.Tensor4D, tf.Tensor4D];
  const a = attrs as unknown as {
    strides: number | [number, number];
    pad: tf.backend_util.PadInfo | 'same' | 'valid' | number | number[][];
    dataFormat: 'NHWC' | 'NCHW';
    dilations: number | [number, number];
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const [dh, dw] = pair(a.dilations ?? 1);
  if (dh !== 1 || dw !== 1 || a.dataFormat === 'NCHW') return stock(dy, saved, attrs);
  const strides = pair(a.strides);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    w.shape,
    strides,
    [1, 1],
    a.pad as never,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
  const pads = info.padInfo;
  return {
    x: () => conv2dInputGrad(dy as tf.Tensor4D, w, x.shape, strides, pads),
    filter: () => conv2dFilterGrad(x, dy as tf.Tensor4D, w.shape, strides, pads),
  };
});
