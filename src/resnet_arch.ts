/**
 * The state-of-the-art ResNet at the end of the fastai book's chapter 14:
 * a stem of ConvLayers and a max pool, stages of ResBlocks (or bottleneck
 * blocks, for ResNet-50), global pooling and a linear head.
 *
 * @module
 */
import * as t from 'io-ts';
import { decodeArg, type NoFields, optionSet, type OptionSetOf, type OptionsOf, PositiveInt, type SameType, typesAgree } from './config.ts';
import { convLayer, resBlock, residualBlock } from './blocks.ts';
import { serial, withKind } from './combinators.ts';
import type { Children } from './combinators.ts';
import { ConfigError } from './errors.ts';
import { type AnyLayer, type Layer, withLabel } from './layer.ts';
import { dense } from './layers/dense.ts';
import { globalAvgPool, maxPool } from './layers/pooling.ts';
import { flatten } from './layers/shape_ops.ts';

/**
 * fastai's bottleneck block (the book's `_conv_block` for ResNet-50):
 * `relu(convs(x) + idconv(pool(x)))` with `convs` a 1×1 ConvLayer to nf/4
 * channels, a 3×3 ConvLayer carrying the stride, and a 1×1 ConvLayer back to
 * nf with no activation and BatchZero. The shortcut is {@link resBlock}'s.
 *
 * @example
 * ```ts
 * import { bottleneckBlock, countParams, disposeTree, prngKey } from 'tsnn';
 *
 * const block = bottleneckBlock(64, 256, 1); // ResNet-50's first block
 * const { params, state, outShape } = block.init(prngKey(0), [56, 56, 64]);
 * console.log(outShape, countParams(params)); // [ 56, 56, 256 ] 75008
 * // bottleneckBlock(8, 2) throws ConfigError: bottleneckBlock.nf: expected at least 4 (the middle conv has nf/4 channels), got 2
 * disposeTree({ params, state });
 * ```
 */
export const bottleneckBlock = (ni: number, nf: number, stride = 1): Layer<Children, Children> => {
  for (const [field, v] of [['ni', ni], ['nf', nf], ['stride', stride]] as const) decodeArg(`bottleneckBlock.${field}`, PositiveInt, v);
  if (nf < 4) throw new ConfigError([`bottleneckBlock.nf: expected at least 4 (the middle conv has nf/4 channels), got ${nf}`]);
  const nh = Math.floor(nf / 4);
  const convs = serial(convLayer(ni, nh, { ks: 1 }), convLayer(nh, nh, { stride }), convLayer(nh, nf, { ks: 1, act: 'none', bnInit: 'zero' }));
  return residualBlock('bottleneckBlock', convs, ni, nf, stride);
};

/** The stem with its first conv's kernel size: fastai's XResNet has `ks` for it; torchvision's stem is one 7×7 conv. */
const stemWith = (owner: string, sizes: readonly number[], ks: number): Layer<Children, Children> => {
  sizes.forEach((s, i) => decodeArg(`${owner}.sizes.${i}`, PositiveInt, s));
  if (sizes.length < 2) throw new ConfigError([`${owner}.sizes: expected at least 2 channel counts (input, then each conv's), got ${JSON.stringify(sizes)}`]);
  const convs = sizes.slice(1).map((nf, i) => convLayer(sizes[i], nf, { ks: i === 0 ? ks : 3, stride: i === 0 ? 2 : 1 }));
  return withKind('resnetStem', serial(...convs, maxPool({ size: 3, stride: 2, padding: 1 })));
};

/**
 * The book's ResNet stem, `_resnet_stem(*sizes)`: a ConvLayer per pair of
 * sizes (the first with stride 2), then a 3×3 max pool with stride 2 and
 * padding 1. The book uses `resnetStem(3, 32, 32, 64)`: a quarter of the input's height and width.
 *
 * @example
 * ```ts
 * import { disposeTree, prngKey, resnetStem } from 'tsnn';
 *
 * const { params, state, outShape } = resnetStem(3, 32, 32, 64).init(prngKey(0), [128, 128, 3]);
 * console.log(outShape, Object.keys(params)); // [ 32, 32, 64 ] [ "0", "1", "2", "3" ]
 * disposeTree({ params, state });
 * ```
 */
export const resnetStem = (...sizes: number[]): Layer<Children, Children> => stemWith('resnetStem', sizes, 3);

const resNetArchOptional = {
  expansion: PositiveInt,
  nIn: PositiveInt,
  stem: t.readonlyArray(PositiveInt),
  stemKs: PositiveInt,
};
const ResNetArchOptionSet: OptionSetOf<NoFields, typeof resNetArchOptional> = optionSet('resNetArch', {}, resNetArchOptional);

/** Options of {@link resNetArch} and the `resnet18/34/50` builders. */
export interface ResNetArchOptions {
  /** 1: ResBlocks; 4: bottleneck blocks, with stages 4× wider (ResNet-50). Default 1. */
  readonly expansion?: number;
  /** Input channels. Default 3, as in the book. */
  readonly nIn?: number;
  /** The stem's channel counts after the input's. Default the book's `[32, 32, 64]`. */
  readonly stem?: readonly number[];
  /** The first stem conv's kernel size. Default 3; with `stem: [64]`, 7 gives torchvision's stem. */
  readonly stemKs?: number;
}
typesAgree<SameType<ResNetArchOptions, OptionsOf<typeof ResNetArchOptionSet>>>();

/**
 * The book's `ResNet(n_out, layers, expansion)`: the stem, then one stage per
 * entry of `layers` (that many blocks; stride 1 for the first stage, 2 after)
 * with block sizes `[64, 128, 256, 512]` times `expansion`, a global average
 * pool and a linear head. Params: `stem`, `stages.<i>.<j>`, `head`.
 *
 * @example
 * ```ts
 * import { countParams, disposeTree, prngKey, resNetArch } from 'tsnn';
 *
 * const model = resNetArch(10, [1, 1], { nIn: 1, stem: [8, 16] }); // a small one
 * const { params, state, outShape } = model.init(prngKey(0), [28, 28, 1]);
 * console.log(outShape, Object.keys(params)); // [ 10 ] [ "stem", "stages", "pool", "flatten", "head" ]
 * // resNetArch(10, [2, 2, 2, 2, 2]) throws ConfigError: resNetArch.layers: expected 1 to 4 stages, got 5
 * disposeTree({ params, state });
 * ```
 */
export const resNetArch = (nOut: number, layers: readonly number[], opts: ResNetArchOptions = {}): Layer<Children, Children> => {
  decodeArg('resNetArch.nOut', PositiveInt, nOut);
  decodeArg('resNetArch.layers', t.readonlyArray(PositiveInt, 'positive integers'), layers);
  if (layers.length < 1 || layers.length > 4) throw new ConfigError([`resNetArch.layers: expected 1 to 4 stages, got ${layers.length}`]);
  const o = ResNetArchOptionSet.decode(opts);
  const expansion = o.expansion ?? 1, stemSizes = [o.nIn ?? 3, ...(o.stem ?? [32, 32, 64])];
  const block: (ni: number, nf: number, stride: number) => AnyLayer = expansion === 1 ? resBlock : bottleneckBlock;
  const sizes = [stemSizes[stemSizes.length - 1], ...[64, 128, 256, 512].map((s) => s * expansion)];
  const stages = layers.map((n, idx) =>
    serial(...Array.from({ length: n }, (_, i) => block(i === 0 ? sizes[idx] : sizes[idx + 1], sizes[idx + 1], i === 0 && idx > 0 ? 2 : 1)))
  );
  return withKind(
    'resNetArch',
    serial(
      withLabel('stem', stemWith('resNetArch.stem', stemSizes, o.stemKs ?? 3)),
      withLabel('stages', serial(...stages)),
      withLabel('pool', globalAvgPool),
      withLabel('flatten', flatten),
      withLabel('head', dense({ nf: nOut })),
    ),
  );
};

/**
 * ResNet-18 as the book builds it: `resNetArch(nOut, [2, 2, 2, 2], opts)`.
 * With 3 input channels and 1000 classes it has 11,708,744 params; with
 * torchvision's stem (`{ stem: [64], stemKs: 7 }`) 11,689,512, torchvision's
 * published count.
 *
 * @example
 * ```ts
 * import { countParams, disposeTree, prngKey, resnet18 } from 'tsnn';
 *
 * const { params, state } = resnet18(10, { nIn: 1 }).init(prngKey(0), [28, 28, 1]);
 * console.log(countParams(params)); // 11200298
 * disposeTree({ params, state });
 * ```
 */
export const resnet18 = (nOut: number, opts: Omit<ResNetArchOptions, 'expansion'> = {}): Layer<Children, Children> =>
  resNetArch(nOut, [2, 2, 2, 2], { ...opts, expansion: 1 });

/**
 * ResNet-34: `resNetArch(nOut, [3, 4, 6, 3], opts)`; 21,816,904 params with
 * 3 input channels and 1000 classes, 21,797,672 (torchvision's) with its stem.
 *
 * @example
 * ```ts
 * import { resnet34 } from 'tsnn';
 *
 * const model = resnet34(10, { nIn: 1 }); // 21,308,458 params
 * ```
 */
export const resnet34 = (nOut: number, opts: Omit<ResNetArchOptions, 'expansion'> = {}): Layer<Children, Children> =>
  resNetArch(nOut, [3, 4, 6, 3], { ...opts, expansion: 1 });

/**
 * ResNet-50: `resNetArch(nOut, [3, 4, 6, 3], { expansion: 4 })`, bottleneck
 * blocks; 25,576,264 params with 3 input channels and 1000 classes,
 * 25,557,032 (torchvision's) with its stem.
 *
 * @example
 * ```ts
 * import { resnet50 } from 'tsnn';
 *
 * const model = resnet50(10, { nIn: 1 }); // 23,547,178 params
 * ```
 */
export const resnet50 = (nOut: number, opts: Omit<ResNetArchOptions, 'expansion'> = {}): Layer<Children, Children> =>
  resNetArch(nOut, [3, 4, 6, 3], { ...opts, expansion: 4 });
