/**
 * 2-D convolution over NHWC tensors.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import * as t from 'io-ts';
import {
  checkWeightSize,
  NonNegativeInt,
  optionSet,
  type OptionSetOf,
  type OptionsOf,
  PositiveInt,
  type SameType,
  tupleOf,
  type TupleOfC,
  typesAgree,
} from '../config.ts';
import { ShapeError, showShape } from '../errors.ts';
import { expectInput, type Layer, paramTensor, singleInput, singleShape, tidyApply } from '../layer.ts';
import { type Key, split } from '../random.ts';
import type { Empty } from '../tree.ts';
import { kaimingNormal, kaimingUniform, torchDefaultUniform, xavierUniform } from './init.ts';

/**
 * tfjs-core's tensor types under private aliases: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); `@ignore`d aliases silence just that.
 *
 * @ignore
 */
type Tensor1D = tf.Tensor1D;
/** @ignore */
type Tensor4D = tf.Tensor4D;

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const Padding: t.UnionC<[
  t.LiteralC<'same'>,
  t.LiteralC<'valid'>,
  typeof NonNegativeInt,
  TupleOfC<readonly [typeof NonNegativeInt, typeof NonNegativeInt]>,
]> = t.union([
  t.literal('same'),
  t.literal('valid'),
  NonNegativeInt,
  tupleOf([NonNegativeInt, NonNegativeInt], '[top/bottom, left/right]'),
], "'same' | 'valid' | non-negative integer | [top/bottom, left/right]");

/** How a conv's weight is drawn: see {@link Conv2dOptions.init}. */
export type ConvInit = 'torchDefault' | 'kaimingUniform' | 'kaimingNormal' | 'xavierUniform';
/** The codec of {@link ConvInit}. */
export const ConvInitCodec: t.KeyofC<Record<ConvInit, null>> = t.keyof(
  { torchDefault: null, kaimingUniform: null, kaimingNormal: null, xavierUniform: null },
  "'torchDefault' | 'kaimingUniform' | 'kaimingNormal' | 'xavierUniform'",
);

/** A conv weight `[ks, ks, ni, nf]` drawn by `init` (fan-in ks·ks·ni, fan-out ks·ks·nf, as PyTorch counts them). */
export const convWeight = (init: ConvInit, key: Key, shape: readonly [number, number, number, number]): tf.Tensor4D => {
  const [kh, kw, ni, nf] = shape, fanIn = kh * kw * ni;
  switch (init) {
    case 'torchDefault':
      return torchDefaultUniform(key, shape, fanIn) as tf.Tensor4D;
    case 'kaimingUniform':
      return kaimingUniform(key, shape, fanIn) as tf.Tensor4D;
    case 'kaimingNormal':
      return kaimingNormal(key, shape, fanIn) as tf.Tensor4D;
    case 'xavierUniform':
      return xavierUniform(key, shape, fanIn, kh * kw * nf) as tf.Tensor4D;
  }
};

const conv2dRequired = {
  nf: PositiveInt,
};
const conv2dOptional = {
  ni: PositiveInt,
  ks: PositiveInt,
  stride: PositiveInt,
  padding: Padding,
  bias: t.boolean,
  init: ConvInitCodec,
};
const Conv2dOptionSet: OptionSetOf<typeof conv2dRequired, typeof conv2dOptional> = optionSet('conv2d', conv2dRequired, conv2dOptional);

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Output channels. */
  readonly nf: number;
  /** Input channels; when given, `init` checks it against the input shape. */
  readonly ni?: number;
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
  /**
   * How the weight is drawn. `'torchDefault'`: U(±1/√fanIn), PyTorch's
   * `nn.Conv2d` default; `'kaimingUniform'`: U(±√(6/fanIn)); `'kaimingNormal'`:
   * N(0, 2/fanIn); `'xavierUniform'`: U(±√(6/(fanIn + fanOut))). The bias is
   * always U(±1/√fanIn), as in PyTorch. Default `'torchDefault'`.
   */
  readonly init?: ConvInit;
}
typesAgree<SameType<Conv2dOptions, OptionsOf<typeof Conv2dOptionSet>>>();

/** Params of {@link conv2d}: `weight` is `[ks, ks, ni, nf]`. */
export type Conv2dParams = { readonly weight: Tensor4D; readonly bias?: Tensor1D };

// ---------------------------------------------------------------------------
// Geometry
// ---------------------------------------------------------------------------

type TfPadding = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

const tfPadding = (p: NonNullable<Conv2dOptions['padding']>): TfPadding =>
  p === 'same' || p === 'valid' ? p : typeof p === 'number' ? [[0, 0], [p, p], [p, p], [0, 0]] : [[0, 0], [p[0], p[0]], [p[1], p[1]], [0, 0]];

/**
 * Output size along one axis, for each padding mode.
 *
 * @example
 * ```ts
 * console.log(convOutSize(28, 3, 2, 1)); // 14
 * console.log(convOutSize(7, 3, 2, 'same')); // 4
 * ```
 */
export const convOutSize = (size: number, ks: number, stride: number, pad: 'same' | 'valid' | number): number =>
  pad === 'same' ? Math.ceil(size / stride) : pad === 'valid' ? Math.floor((size - ks) / stride) + 1 : Math.floor((size + 2 * pad - ks) / stride) + 1;

/**
 * A conv whose output is a single position, and whose whole input falls
 * inside the kernel (the deep stages of small-image ResNets: a 2×2 map at
 * stride 2, or a 1×1 map), sees one window of taps: it is one matmul with
 * that window of the weight. The conv would spend most of its multiply-adds
 * on zero padding (5/9 on a 2×2 map, 8/9 on a 1×1 map).
 */
const oneWindow = (x: tf.Tensor, padH: Conv2dOptions['padding'], padW: Conv2dOptions['padding'], ks: number, stride: number): boolean => {
  if (typeof padH !== 'number' || typeof padW !== 'number') return false;
  const [h, w] = [x.shape[1]!, x.shape[2]!];
  return convOutSize(h, ks, stride, padH) === 1 && convOutSize(w, ks, stride, padW) === 1 && h + padH <= ks && w + padW <= ks;
};

/** The single-output conv as `x · window`, with the taps `[padH, padH + h) × [padW, padW + w)` of the weight. */
const windowMatMul = (x: tf.Tensor4D, wt: tf.Tensor4D, padH: number, padW: number): tf.Tensor4D => {
  const [n, h, w, ci] = x.shape;
  const co = wt.shape[3];
  const window = tf.reshape(tf.slice(wt, [padH, padW, 0, 0], [h, w, ci, co]), [h * w * ci, co]);
  return tf.reshape(tf.matMul(tf.reshape(x, [n, h * w * ci]), window), [n, 1, 1, co]);
};

// ---------------------------------------------------------------------------
// Layer
// ---------------------------------------------------------------------------

/**
 * A 2-D convolution, NHWC, kaiming-normal weights. Options are checked
 * here: an unknown or ill-typed one is a ConfigError naming it, and so is a
 * weight `[ks, ks, ni, nf]` of more than 2^28 values, refused before
 * allocating (at construction when `ni` is given or `ks`/`nf` alone are too
 * big, else at `init`).
 *
 * @example
 * ```ts
 * import { conv2d, prngKey } from 'tsnn';
 *
 * const conv = conv2d({ nf: 16, ks: 3, stride: 2 });
 * const { params, outShape } = conv.init(prngKey(0), [28, 28, 1]);
 * console.log(outShape, params.weight.shape); // [14, 14, 16] [3, 3, 1, 16]
 * // conv2d({ nf: 16, ks: 1e6 }) throws ConfigError: conv2d.ks: expected a value for which the weight holds at most 2^28 ...
 * ```
 */
export const conv2d = (opts: Conv2dOptions): Layer<Conv2dParams, Empty> => {
  const o = Conv2dOptionSet.decode(opts);
  const ks = o.ks ?? 3;
  const stride = o.stride ?? 1;
  const padding = o.padding ?? Math.floor(ks / 2);
  const bias = o.bias ?? true;
  const pad = tfPadding(padding);
  const [padH, padW] = typeof padding === 'object' ? padding : [padding, padding];
  const weightFields = (c: number): Record<string, readonly [number, number]> =>
    o.ni === undefined ? { ks: [ks, 2], nf: [o.nf, 1] } : { ks: [ks, 2], nf: [o.nf, 1], ni: [c, 1] };
  // Refuse before allocating: a typo such as ks: 1e6 with the default padding would ask for terabytes.
  checkWeightSize('conv2d', [ks, ks, o.ni ?? 1, o.nf], weightFields(o.ni ?? 1));
  return {
    name: 'conv2d',
    init(key, inShape) {
      const s = singleShape('conv2d', inShape);
      if (s.length !== 3) throw new ShapeError('conv2d', [], `expected input shape [*, h, w, c], got ${showShape(s)}`);
      const [h, w, c] = s;
      if (o.ni !== undefined && o.ni !== c) {
        throw new ShapeError('conv2d', [], `expected input shape ${showShape([null, null, o.ni])}, got ${showShape(s)}`);
      }
      const oh = convOutSize(h, ks, stride, padH), ow = convOutSize(w, ks, stride, padW);
      if (oh < 1 || ow < 1) {
        throw new ShapeError('conv2d', [], `input ${showShape(s)} is too small for kernel ${ks} with padding ${JSON.stringify(padding)}`);
      }
      checkWeightSize('conv2d', [ks, ks, c, o.nf], weightFields(c));
      const [kw, kb] = split(key, 2);
      const fanIn = ks * ks * c;
      const weight = convWeight(o.init ?? 'torchDefault', kw, [ks, ks, c, o.nf]);
      const params: Conv2dParams = bias ? { weight, bias: torchDefaultUniform(kb, [o.nf], fanIn) as tf.Tensor1D } : { weight };
      return { params, state: {}, outShape: [oh, ow, o.nf] };
    },
    apply: tidyApply((params, state, x) => {
      const x4 = singleInput('conv2d', x);
      const weight = paramTensor('conv2d', 'params', params, 'weight') as tf.Tensor4D;
      const b = bias ? paramTensor('conv2d', 'params', params, 'bias') : undefined;
      expectInput('conv2d', x4, [null, null, weight.shape[2]]);
      const y = oneWindow(x4, padH, padW, ks, stride)
        ? windowMatMul(x4 as tf.Tensor4D, weight, padH as number, padW as number)
        : tf.conv2d(x4 as tf.Tensor4D, weight, stride, pad);
      return { y: b ? tf.add(y, b) : y, state };
    }),
  };
};
