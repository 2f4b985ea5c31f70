/**
 * 2-D convolution over NHWC tensors.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import * as t from 'io-ts';
import { decodeOptions, NonNegativeInt, options, PositiveInt } from '../config.ts';
import { ShapeError, showShape } from '../errors.ts';
import { expectInput, type Layer, singleInput, singleShape } from '../layer.ts';
import { split } from '../random.ts';
import type { Empty } from '../tree.ts';
import { kaimingNormal, lecunUniform } from './init.ts';

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const Padding = t.union([
  t.literal('same'),
  t.literal('valid'),
  NonNegativeInt,
  t.tuple([NonNegativeInt, NonNegativeInt]),
], "'same' | 'valid' | non-negative integer | [top/bottom, left/right]");

const Conv2dOptions = options('conv2d', { nOut: PositiveInt }, {
  nIn: PositiveInt,
  ks: PositiveInt,
  stride: PositiveInt,
  padding: Padding,
  bias: t.boolean,
});

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Output channels. */
  readonly nOut: number;
  /** Input channels; when given, `init` checks it against the input shape. */
  readonly nIn?: number;
  /** Kernel size (square). Default 3. */
  readonly ks?: number;
  /** Stride. Default 1. */
  readonly stride?: number;
  /**
   * `'same'` (TF: output ceil(h / stride)), `'valid'`, or explicit symmetric
   * zero padding as in PyTorch. Default `floor(ks / 2)`, fastai's choice.
   */
  readonly padding?: 'same' | 'valid' | number | readonly [number, number];
  /** Add a bias. Default true. */
  readonly bias?: boolean;
}

/** Params of {@link conv2d}: `weight` is `[ks, ks, nIn, nOut]`. */
export type Conv2dParams = { readonly weight: tf.Tensor4D; readonly bias?: tf.Tensor1D };

// ---------------------------------------------------------------------------
// Geometry
// ---------------------------------------------------------------------------

type TfPadding = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

const tfPadding = (p: Conv2dOptions['padding'] & {}): TfPadding =>
  p === 'same' || p === 'valid'
    ? p
    : typeof p === 'number'
    ? [[0, 0], [p, p], [p, p], [0, 0]]
    : [[0, 0], [p[0], p[0]], [p[1], p[1]], [0, 0]];

/**
 * Output size along one axis, for each padding mode.
 *
 * @example
 * convOutSize(28, 3, 2, 1) // 14
 */
export const convOutSize = (size: number, ks: number, stride: number, pad: 'same' | 'valid' | number): number =>
  pad === 'same'
    ? Math.ceil(size / stride)
    : pad === 'valid'
    ? Math.floor((size - ks) / stride) + 1
    : Math.floor((size + 2 * pad - ks) / stride) + 1;

/**
 * A 1×1 input with explicit padding below the kernel size gives a 1×1 output
 * that sees one tap only (the deep stages of small-image ResNets).
 */
const onePixel = (x: tf.Tensor, padH: Conv2dOptions['padding'], padW: Conv2dOptions['padding'], ks: number, stride: number): boolean =>
  x.shape[1] === 1 && x.shape[2] === 1 && typeof padH === 'number' && typeof padW === 'number' &&
  padH < ks && padW < ks && convOutSize(1, ks, stride, padH) === 1 && convOutSize(1, ks, stride, padW) === 1;

/** The conv of a 1×1 input as a matmul with the one tap it sees; the other taps multiply zero padding. */
const centerTap = (x: tf.Tensor4D, w: tf.Tensor4D, padH: number, padW: number): tf.Tensor4D => {
  const [, , ci, co] = w.shape;
  const tap = tf.reshape(tf.slice(w, [padH, padW, 0, 0], [1, 1, ci, co]), [ci, co]);
  return tf.reshape(tf.matMul(tf.reshape(x, [x.shape[0], ci]), tap), [x.shape[0], 1, 1, co]);
};

// ---------------------------------------------------------------------------
// Layer
// ---------------------------------------------------------------------------

/**
 * A 2-D convolution, NHWC, kaiming-normal weights.
 *
 * @example
 * const conv = conv2d({ nOut: 16, ks: 3, stride: 2 });
 * const { params, outShape } = conv.init(prngKey(0), [28, 28, 1]); // outShape [14, 14, 16]
 */
export const conv2d = (opts: Conv2dOptions): Layer<Conv2dParams, Empty> => {
  const o = decodeOptions('conv2d', Conv2dOptions, ['nOut', 'nIn', 'ks', 'stride', 'padding', 'bias'], opts);
  const ks = o.ks ?? 3;
  const stride = o.stride ?? 1;
  const padding = o.padding ?? Math.floor(ks / 2);
  const bias = o.bias ?? true;
  const pad = tfPadding(padding);
  const [padH, padW] = typeof padding === 'object' ? padding : [padding, padding];
  return {
    name: 'conv2d',
    init(key, inShape) {
      const s = singleShape('conv2d', inShape);
      if (s.length !== 3) throw new ShapeError('conv2d', [], `expected input shape [*, h, w, c], got ${showShape(s)}`);
      const [h, w, c] = s;
      if (o.nIn !== undefined && o.nIn !== c) {
        throw new ShapeError('conv2d', [], `expected input shape ${showShape([null, null, o.nIn])}, got ${showShape(s)}`);
      }
      const oh = convOutSize(h, ks, stride, padH), ow = convOutSize(w, ks, stride, padW);
      if (oh < 1 || ow < 1) {
        throw new ShapeError('conv2d', [], `input ${showShape(s)} is too small for kernel ${ks} with padding ${JSON.stringify(padding)}`);
      }
      const [kw, kb] = split(key, 2);
      const fanIn = ks * ks * c;
      const weight = kaimingNormal(kw, [ks, ks, c, o.nOut], fanIn) as tf.Tensor4D;
      const params: Conv2dParams = bias ? { weight, bias: lecunUniform(kb, [o.nOut], fanIn) as tf.Tensor1D } : { weight };
      return { params, state: {}, outShape: [oh, ow, o.nOut] };
    },
    apply(params, state, x) {
      const x4 = singleInput('conv2d', x);
      expectInput('conv2d', x4, [null, null, params.weight.shape[2]]);
      const y = onePixel(x4, padH, padW, ks, stride)
        ? centerTap(x4 as tf.Tensor4D, params.weight, padH as number, padW as number)
        : tf.conv2d(x4 as tf.Tensor4D, params.weight, stride, pad);
      return { y: params.bias ? tf.add(y, params.bias) : y, state };
    },
  };
};
