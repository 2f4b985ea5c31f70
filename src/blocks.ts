/**
 * fastai's ConvLayer and ResBlock, and the chapter-14 models of the fastai
 * book ("ResNets"), written as combinator expressions.
 *
 * @module
 */
import type * as tf from './tfjs/tf.ts';
import * as t from 'io-ts';
import { decodeArg, func, type NoFields, optionSet, type OptionSetOf, type OptionsOf, PositiveInt, type SameType, typesAgree } from './config.ts';
import { add, serial, withKind } from './combinators.ts';
import { ConfigError } from './errors.ts';
import { type AnyLayer, type Layer, tidyApply, withLabel } from './layer.ts';
import { BATCH_NORM_EPS, batchNorm } from './layers/batchnorm.ts';
import { gelu, leakyRelu, type Pointwise, relu, sigmoid, silu, tanh } from './layers/activations.ts';
import { conv2d, type ConvInit, ConvInitCodec } from './layers/conv.ts';
import { dense } from './layers/dense.ts';
import { avgPool, globalAvgPool } from './layers/pooling.ts';
import { flatten, identity } from './layers/shape_ops.ts';
import { convBatchNormInference } from './ops/conv_batchnorm.ts';
import type { Tree } from './tree.ts';
import type { Children } from './combinators.ts';

// ---------------------------------------------------------------------------
// ConvLayer
// ---------------------------------------------------------------------------

const ACTIVATIONS: Record<string, Pointwise> = { relu, silu, gelu, sigmoid, tanh, leakyRelu: leakyRelu() };

/** An activation by name (`'relu'`, `'none'`, ...) or as a {@link Pointwise}. */
export type Act = 'none' | 'relu' | 'silu' | 'gelu' | 'sigmoid' | 'tanh' | 'leakyRelu' | Pointwise;

const ActCodec: t.Type<Act, Act, unknown> = t.union([
  t.keyof({ none: null, relu: null, silu: null, gelu: null, sigmoid: null, tanh: null, leakyRelu: null }),
  func<Pointwise>('a pointwise activation'),
], "one of 'none', 'relu', 'silu', 'gelu', 'sigmoid', 'tanh', 'leakyRelu' or a pointwise activation");

const BnInit: t.UnionC<[t.LiteralC<'one'>, t.LiteralC<'zero'>]> = t.union([t.literal('one'), t.literal('zero')], "'one' | 'zero'");
const convLayerOptional = {
  ks: PositiveInt,
  stride: PositiveInt,
  act: ActCodec,
  bnInit: BnInit,
  init: t.union([t.literal('auto'), ConvInitCodec], "'auto' | 'torchDefault' | 'kaimingUniform' | 'kaimingNormal' | 'xavierUniform'"),
};
const ConvLayerOptionSet: OptionSetOf<NoFields, typeof convLayerOptional> = optionSet('convLayer', {}, convLayerOptional);

/** Options of {@link convLayer}. */
export interface ConvLayerOptions {
  /** Kernel size. Default 3. */
  readonly ks?: number;
  /** Stride. Default 1. */
  readonly stride?: number;
  /** Activation after the batch norm. Default `'relu'`. */
  readonly act?: Act;
  /** BatchNorm weight init: `'zero'` is fastai's BatchZero. Default `'one'`. */
  readonly bnInit?: 'one' | 'zero';
  /**
   * The conv weight's init. `'auto'` (the default) is fastai's `init='auto'`:
   * `'kaimingUniform'` before relu, leakyRelu or silu, `'xavierUniform'`
   * before sigmoid or tanh, and PyTorch's `'torchDefault'` otherwise (no
   * activation, gelu, or an activation of your own). See `conv2d`'s `init`.
   */
  readonly init?: 'auto' | ConvInit;
}
typesAgree<SameType<ConvLayerOptions, OptionsOf<typeof ConvLayerOptionSet>>>();

const resolveAct = (act: Act | undefined): Pointwise | null =>
  act === undefined ? relu : act === 'none' ? null : typeof act === 'function' ? act : ACTIVATIONS[act];

/**
 * fastai's `init_linear(conv, act, init='auto')`: the initialiser its layers.py
 * attaches to the activation (`__default_init__`), matched here by the
 * activation's name; a conv with none keeps PyTorch's default.
 */
const autoInit = (act: Pointwise | null): ConvInit => {
  if (act === null) return 'torchDefault';
  if (['relu', 'leakyRelu', 'silu'].includes(act.name)) return 'kaimingUniform';
  if (['sigmoid', 'tanh'].includes(act.name)) return 'xavierUniform';
  return 'torchDefault';
};

/** fastai's `BatchNorm(nf)` starts its bias at 1e-3 (`_get_norm`: `bn.bias.data.fill_(1e-3)`). */
const FASTAI_BN_BETA = 1e-3;

/**
 * fastai's ConvLayer: conv (padding ks//2, no bias) → batchNorm → activation.
 * Params are `{ conv: { weight }, bn: { gamma, beta } }`, initialised as
 * fastai does: the conv weight by the activation (see
 * {@link ConvLayerOptions.init}: U(±√(6/fanIn)) before relu, U(±1/√fanIn)
 * with no activation), BatchNorm's gamma at 1 (0 with `bnInit: 'zero'`,
 * fastai's BatchZero) and its beta at 1e-3.
 *
 * @example
 * ```ts
 * import { convLayer, disposeTree, prngKey, treeShapes } from 'tsnn';
 *
 * const stem = convLayer(1, 16, { stride: 2 });
 * const { params, state, outShape } = stem.init(prngKey(0), [28, 28, 1]);
 * console.log(outShape); // [ 14, 14, 16 ]
 * console.log(Object.keys(treeShapes(params))); // [ "bn", "conv" ]
 * const last = convLayer(16, 16, { act: 'none', bnInit: 'zero' }); // no activation; BatchNorm's gamma starts at 0
 * disposeTree({ params, state });
 * ```
 */
export const convLayer = (ni: number, nf: number, opts: ConvLayerOptions = {}): Layer<Children, Children> => {
  decodeArg('convLayer.ni', PositiveInt, ni);
  decodeArg('convLayer.nf', PositiveInt, nf);
  const o = ConvLayerOptionSet.decode(opts);
  const ks = o.ks ?? 3;
  const a = resolveAct(o.act);
  const body = serial(
    withLabel(
      'conv',
      conv2d({
        ni,
        nf,
        ks,
        stride: o.stride ?? 1,
        padding: Math.floor(ks / 2),
        bias: false,
        init: o.init === undefined || o.init === 'auto' ? autoInit(a) : o.init,
      }),
    ),
    withLabel('bn', batchNorm({ init: o.bnInit ?? 'one', betaInit: FASTAI_BN_BETA })),
  );
  const layer = a ? a(body) : body;
  return withKind('convLayer', a === null || a === relu ? foldedInference(layer, o.stride ?? 1, Math.floor(ks / 2), a === relu) : layer);
};

/**
 * Evaluation through the conv + BatchNorm inference op, which the engine may
 * fold into one fused conv. Training and observed passes (summaries, which
 * want every child's output) take the layer's ordinary path, as do inputs it
 * would reject (so that its shape errors are reported) and 1×1 inputs, which
 * the conv layer computes as a matmul.
 */
const foldedInference = (layer: Layer<Children, Children>, stride: number, pad: number, withRelu: boolean): Layer<Children, Children> => ({
  ...layer,
  apply: tidyApply((params, state, x, ctx) => {
    const w = (params.conv as { weight?: tf.Tensor4D })?.weight;
    const bn = params.bn as { gamma?: tf.Tensor1D; beta?: tf.Tensor1D } | undefined;
    const stats = state.bn as { mean?: tf.Tensor1D; var?: tf.Tensor1D } | undefined;
    const xt = x as tf.Tensor;
    if (
      ctx.training || ctx.observe || Array.isArray(x) || !w || !bn?.gamma || !bn.beta || !stats?.mean || !stats.var ||
      xt.rank !== 4 || xt.shape[3] !== w.shape[2] || (xt.shape[1] === 1 && xt.shape[2] === 1)
    ) {
      return layer.apply(params, state, x, ctx);
    }
    const y = convBatchNormInference(
      { x: xt as tf.Tensor4D, weight: w, gamma: bn.gamma, beta: bn.beta, mean: stats.mean, variance: stats.var },
      { stride, pad, eps: BATCH_NORM_EPS, relu: withRelu },
    );
    return { y, state };
  }),
});

// ---------------------------------------------------------------------------
// ResBlock
// ---------------------------------------------------------------------------

/**
 * fastai's ResBlock: `relu(convs(x) + idconv(pool(x)))`.
 *
 * - `convs`: two ConvLayers; the first carries the stride, the second has no
 *   activation and a zero-initialised BatchNorm weight, so the block starts
 *   as `relu(idconv(pool(x)) + 1e-3)` (1e-3 is fastai's BatchNorm bias).
 * - `idconv`: identity when `ni === nf`, else a 1×1 ConvLayer without activation.
 * - `pool`: identity when `stride === 1`, else `AvgPool(stride, ceil_mode=True)`,
 *   as fastai's library has it (the book's `AvgPool(2)` at its stride 2), so
 *   that both branches agree in size at any stride.
 *
 * Params: `{ convs: { 0, 1 }, 1: { idconv } }` (the shortcut is `add`'s second child).
 *
 * @example
 * ```ts
 * import { disposeTree, prngKey, resBlock } from 'tsnn';
 *
 * const block = resBlock(16, 32, 2);
 * const { params, state, outShape } = block.init(prngKey(0), [28, 28, 16]);
 * console.log(outShape, Object.keys(params)); // [ 14, 14, 32 ] [ "1", "convs" ]
 * disposeTree({ params, state });
 * ```
 */
export const resBlock = (ni: number, nf: number, stride = 1): Layer<Children, Children> => {
  for (const [field, v] of [['ni', ni], ['nf', nf], ['stride', stride]] as const) decodeArg(`resBlock.${field}`, PositiveInt, v);
  return residualBlock('resBlock', serial(convLayer(ni, nf, { stride }), convLayer(nf, nf, { act: 'none', bnInit: 'zero' })), ni, nf, stride);
};

/**
 * fastai's residual layout around a branch `convs` (ni → nf channels at
 * `stride`): `relu(convs(x) + idconv(pool(x)))`, the shortcut as in
 * {@link resBlock}. Shared by `resBlock` and the bottleneck block.
 */
export const residualBlock = (kind: string, convs: AnyLayer, ni: number, nf: number, stride: number): Layer<Children, Children> => {
  const idconv = withLabel('idconv', ni === nf ? identity : convLayer(ni, nf, { ks: 1, act: 'none' }));
  const pool = withLabel('pool', stride === 1 ? identity : avgPool({ size: stride, ceilMode: true }));
  return withKind(kind, relu(add(withLabel('convs', convs), serial(pool, idconv))));
};

// ---------------------------------------------------------------------------
// Chapter-14 models
// ---------------------------------------------------------------------------

const Channels: t.ReadonlyArrayC<typeof PositiveInt> = t.readonlyArray(PositiveInt);
const modelRequired = {
  nIn: PositiveInt,
  nClasses: PositiveInt,
};
const modelOptional = {
  channels: Channels,
  firstStride: PositiveInt,
};
const ModelOptionSet: OptionSetOf<typeof modelRequired, typeof modelOptional> = optionSet('model', modelRequired, modelOptional);

/** Options of the chapter-14 model builders. */
export interface ModelOptions {
  /** Input channels (1 for Fashion-MNIST). */
  readonly nIn: number;
  /** Number of classes. */
  readonly nClasses: number;
  /** Channels of the blocks. Default the book's `[16, 32, 64, 128, 256]`. */
  readonly channels?: readonly number[];
  /**
   * Stride of the first block. Default 2, as in the book; 1 keeps more
   * resolution on 28×28 inputs, as fastai's course notebook does.
   */
  readonly firstStride?: number;
}
typesAgree<SameType<ModelOptions, OptionsOf<typeof ModelOptionSet>>>();

type Block = (ni: number, nf: number, stride: number) => AnyLayer;

const headed = (owner: string, block: Block, opts: ModelOptions): Layer<Children, Children> => {
  const o = ModelOptionSet.decode(opts, owner);
  const chans = [o.nIn, ...(o.channels ?? [16, 32, 64, 128, 256])];
  if (chans.length < 2) throw new ConfigError([`${owner}.channels: expected at least one channel count, got []`]);
  const blocks = chans.slice(1).map((nf, i) => {
    try {
      return block(chans[i], nf, i === 0 ? (o.firstStride ?? 2) : 2);
    } catch (e) {
      // A block refuses its own conv (a weight too big, say): say which channel count made it so.
      if (!(e instanceof ConfigError)) throw e;
      throw new ConfigError(e.problems.map((p) => `${owner}.channels.${i}: ${p} (in block ${i}, ${chans[i]} → ${nf} channels)`));
    }
  });
  return withKind(
    owner,
    serial(
      withLabel('blocks', serial(...blocks)),
      withLabel('pool', globalAvgPool),
      withLabel('flatten', flatten),
      withLabel('head', dense({ nf: o.nClasses })),
    ),
  );
};

/**
 * The book's first model: stride-2 ConvLayers, global average pool, linear.
 *
 * @example
 * ```ts
 * import { countParams, disposeTree, plainNet, prngKey } from 'tsnn';
 *
 * const model = plainNet({ nIn: 1, nClasses: 10, channels: [8, 16] });
 * const { params, state, outShape } = model.init(prngKey(0), [28, 28, 1]);
 * console.log(outShape, countParams(params)); // [ 10 ] 1442
 * disposeTree({ params, state });
 * ```
 */
export const plainNet = (opts: ModelOptions): Layer<Children, Children> => headed('plainNet', (ni, nf, s) => convLayer(ni, nf, { stride: s }), opts);

/**
 * The book's ResNet: one stride-2 ResBlock per stage.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree, evalCtx, prngKey, resNet } from 'tsnn';
 *
 * const model = resNet({ nIn: 1, nClasses: 10, channels: [8, 16] });
 * const { params, state } = model.init(prngKey(0), [28, 28, 1]);
 * const x = tf.zeros([2, 28, 28, 1]);
 * const { y } = model.apply(params, state, x, evalCtx);
 * console.log((y as tf.Tensor).shape); // [ 2, 10 ]
 * disposeTree({ params, state, x, y: y as tf.Tensor });
 * ```
 */
export const resNet = (opts: ModelOptions): Layer<Children, Children> => headed('resNet', resBlock, opts);

/**
 * The book's deeper ResNet: each stage is `serial(resBlock(ni, nf, 2), resBlock(nf, nf, 1))`.
 *
 * @example
 * ```ts
 * import { disposeTree, prngKey, resNet2 } from 'tsnn';
 *
 * const model = resNet2({ nIn: 1, nClasses: 10, channels: [8, 16], firstStride: 1 });
 * const { params, state, outShape } = model.init(prngKey(0), [28, 28, 1]);
 * console.log(outShape); // [ 10 ]
 * disposeTree({ params, state });
 * ```
 */
export const resNet2 = (opts: ModelOptions): Layer<Children, Children> =>
  headed('resNet2', (ni, nf, s) => serial(resBlock(ni, nf, s), resBlock(nf, nf, 1)), opts);

/**
 * The three chapter-14 models by name.
 *
 * @example
 * ```ts
 * import { chapter14Models } from 'tsnn';
 *
 * console.log(Object.keys(chapter14Models)); // [ "plain", "resnet", "resnet2" ]
 * const model = chapter14Models.resnet2({ nIn: 1, nClasses: 10 });
 * console.log(model.name); // resNet2
 * ```
 */
export const chapter14Models: Record<'plain' | 'resnet' | 'resnet2', (o: ModelOptions) => Layer<Tree & Children, Children>> = {
  plain: plainNet,
  resnet: resNet,
  resnet2: resNet2,
};
