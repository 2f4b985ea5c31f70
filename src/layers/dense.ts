/**
 * Fully connected layers.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import * as t from 'io-ts';
import { checkWeightSize, optionSet, type OptionSetOf, type OptionsOf, PositiveInt, type SameType, typesAgree } from '../config.ts';
import { ShapeError, showShape } from '../errors.ts';
import { expectInput, type Layer, paramTensor, singleInput, singleShape, tidyApply } from '../layer.ts';
import { split } from '../random.ts';
import type { Empty } from '../tree.ts';
import { torchDefaultUniform } from './init.ts';

/**
 * tfjs-core's tensor types under private aliases: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); `@ignore`d aliases silence just that.
 *
 * @ignore
 */
type Tensor1D = tf.Tensor1D;
/** @ignore */
type Tensor2D = tf.Tensor2D;

const denseRequired = {
  nf: PositiveInt,
};
const denseOptional = {
  ni: PositiveInt,
  bias: t.boolean,
};
const DenseOptionSet: OptionSetOf<typeof denseRequired, typeof denseOptional> = optionSet('dense', denseRequired, denseOptional);

/** Options of {@link dense}. */
export interface DenseOptions {
  /** Output features. */
  readonly nf: number;
  /** Input features; when given, `init` checks it. */
  readonly ni?: number;
  /** Add a bias. Default true. */
  readonly bias?: boolean;
}
typesAgree<SameType<DenseOptions, OptionsOf<typeof DenseOptionSet>>>();

/** Params of {@link dense}: `weight` is `[ni, nf]`. */
export type DenseParams = { readonly weight: Tensor2D; readonly bias?: Tensor1D };

/**
 * A fully connected layer on `[batch, features]`, PyTorch's default init.
 * A weight `[ni, nf]` of more than 2^28 values is a ConfigError, raised
 * before allocating.
 *
 * @example
 * ```ts
 * import { prngKey } from 'tsnn';
 * const head = dense({ nf: 10 });
 * console.log(head.init(prngKey(0), [256]).outShape); // [10]
 * ```
 */
export const dense = (opts: DenseOptions): Layer<DenseParams, Empty> => {
  const o = DenseOptionSet.decode(opts);
  const bias = o.bias ?? true;
  const weightFields = (ni: number): Record<string, readonly [number, number]> => (o.ni === undefined ? { nf: [o.nf, 1] } : { nf: [o.nf, 1], ni: [ni, 1] });
  checkWeightSize('dense', [o.ni ?? 1, o.nf], weightFields(o.ni ?? 1));
  return {
    name: 'dense',
    init(key, inShape) {
      const s = singleShape('dense', inShape);
      if (s.length !== 1 || (o.ni !== undefined && s[0] !== o.ni)) {
        const hint = s.length > 1 ? ' (put flatten or globalAvgPool before dense)' : '';
        throw new ShapeError('dense', [], `expected input shape ${showShape([o.ni ?? null])}, got ${showShape(s)}${hint}`);
      }
      checkWeightSize('dense', [s[0], o.nf], weightFields(s[0]));
      const [kw, kb] = split(key, 2);
      const weight = torchDefaultUniform(kw, [s[0], o.nf], s[0]) as tf.Tensor2D;
      const params: DenseParams = bias ? { weight, bias: torchDefaultUniform(kb, [o.nf], s[0]) as tf.Tensor1D } : { weight };
      return { params, state: {}, outShape: [o.nf] };
    },
    apply: tidyApply((params, state, x) => {
      const x2 = singleInput('dense', x);
      const weight = paramTensor('dense', 'params', params, 'weight') as tf.Tensor2D;
      const b = bias ? paramTensor('dense', 'params', params, 'bias') : undefined;
      expectInput('dense', x2, [weight.shape[0]]);
      const y = tf.matMul(x2 as tf.Tensor2D, weight);
      return { y: b ? tf.add(y, b) : y, state };
    }),
  };
};

/**
 * Alias of {@link dense}, for PyTorch users.
 *
 * @example
 * ```ts
 * import { linear, prngKey } from 'tsnn';
 *
 * const head = linear({ nf: 10 });
 * console.log(head.init(prngKey(0), [256]).outShape); // [10]
 * ```
 */
export const linear: typeof dense = dense;
