/**
 * fast-check arbitraries of layer cases, small enough for the cpu backend.
 * Each takes a `Constraints` object, as fast-check's own arbitraries do.
 *
 * @module
 */
import fc from 'fast-check';
import { add, fanInConcat, fanInSum, fanOut, parallel, serial } from '../combinators.ts';
import { convLayer, plainNet, resBlock, resNet, resNet2 } from '../blocks.ts';
import type { AnyLayer, Shape } from '../layer.ts';
import { batchNorm } from '../layers/batchnorm.ts';
import { gelu, leakyRelu, relu, sigmoid, silu, tanh } from '../layers/activations.ts';
import { conv2d } from '../layers/conv.ts';
import { dense } from '../layers/dense.ts';
import { avgPool, globalAvgPool, maxPool, poolOutSize } from '../layers/pooling.ts';
import { dropout, flatten, identity } from '../layers/shape_ops.ts';
import { bottleneckBlock, resNetArch } from '../resnet_arch.ts';
import type { LayerCase } from './checks.ts';
import type { ResBlockCase } from './residual.ts';

/** Size limits for generated cases. */
export interface CaseConstraints {
  /** Largest spatial size. Default 7. */
  readonly maxSize?: number;
  /** Largest channel count. Default 4. */
  readonly maxChannels?: number;
  /** Largest batch. Default 3. */
  readonly maxBatch?: number;
}

const limits = (c: CaseConstraints = {}) => ({ size: c.maxSize ?? 7, ch: c.maxChannels ?? 4, batch: c.maxBatch ?? 3 });

const seed = fc.integer({ min: 0, max: 2 ** 31 - 1 });

const mkCase = (label: string, layer: AnyLayer, inShape: Shape | Shape[], batch: number, s: number): LayerCase =>
  Object.assign({ label, layer, inShape, batch, seed: s }, {
    // How fast-check prints a counterexample: the recipe, not the closures.
    [fc.toStringMethod]: () => `${label} on ${JSON.stringify(inShape)} × batch ${batch}, seed ${s}`,
  });

/**
 * conv2d with random kernel (1, 3, 5), stride (1, 2), padding (same, valid,
 * explicit), bias, channels and input sizes, odd sizes included.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(fc.asyncProperty(laws.arbConv2dCase(), (c) => laws.checkShape(c)), { numRuns: 5, seed: 1 });
 * ```
 */
export const arbConv2dCase = (constraints?: CaseConstraints): fc.Arbitrary<LayerCase> => {
  const l = limits(constraints);
  return fc.record({
    ks: fc.constantFrom(1, 3, 5),
    stride: fc.constantFrom(1, 2),
    padding: fc.oneof(fc.constantFrom('same' as const, 'valid' as const), fc.integer({ min: 0, max: 2 })),
    bias: fc.boolean(),
    ni: fc.integer({ min: 1, max: l.ch }),
    nf: fc.integer({ min: 1, max: l.ch }),
    h: fc.integer({ min: 1, max: l.size }),
    w: fc.integer({ min: 1, max: l.size }),
    batch: fc.integer({ min: 1, max: l.batch }),
    seed,
  }).filter((r) => {
    const p = r.padding === 'same' ? 0 : r.padding === 'valid' ? 0 : r.padding;
    return r.padding === 'same' || (r.h + 2 * p >= r.ks && r.w + 2 * p >= r.ks);
  }).map((r) =>
    mkCase(
      `conv2d(ks ${r.ks}, stride ${r.stride}, padding ${r.padding}, bias ${r.bias}, ${r.ni}->${r.nf})`,
      conv2d({ ni: r.ni, nf: r.nf, ks: r.ks, stride: r.stride, padding: r.padding, bias: r.bias }),
      [r.h, r.w, r.ni],
      r.batch,
      r.seed,
    )
  );
};

/**
 * dense on `[batch, n]`.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(laws.gradientProperty(laws.arbDenseCase()), { numRuns: 5, seed: 1 });
 * ```
 */
export const arbDenseCase = (constraints?: CaseConstraints): fc.Arbitrary<LayerCase> => {
  const l = limits(constraints);
  return fc.record({
    ni: fc.integer({ min: 1, max: 8 }),
    nf: fc.integer({ min: 1, max: 6 }),
    bias: fc.boolean(),
    batch: fc.integer({ min: 1, max: l.batch }),
    seed,
  })
    .map((r) => mkCase(`dense(${r.ni}->${r.nf}, bias ${r.bias})`, dense({ nf: r.nf, bias: r.bias }), [r.ni], r.batch, r.seed));
};

/**
 * batchNorm on rank-2 and rank-4 inputs, both inits; batches large enough to train.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(laws.purityProperty(laws.arbBatchNormCase()), { numRuns: 5, seed: 1 });
 * ```
 */
export const arbBatchNormCase = (constraints?: CaseConstraints): fc.Arbitrary<LayerCase> => {
  const l = limits(constraints);
  return fc.record({
    rank4: fc.boolean(),
    c: fc.integer({ min: 1, max: l.ch }),
    h: fc.integer({ min: 1, max: l.size }),
    w: fc.integer({ min: 1, max: l.size }),
    init: fc.constantFrom('one' as const, 'zero' as const),
    batch: fc.integer({ min: 2, max: Math.max(2, l.batch) }),
    seed,
  }).map((r) => mkCase(`batchNorm(init ${r.init})`, batchNorm({ init: r.init }), r.rank4 ? [r.h, r.w, r.c] : [r.c], r.batch, r.seed));
};

/**
 * avgPool and maxPool with sizes 1–3, strides 1–3, padding and ceil mode.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(laws.shapeProperty(laws.arbPoolCase({ maxSize: 9 })), { numRuns: 10, seed: 1 });
 * ```
 */
export const arbPoolCase = (constraints?: CaseConstraints): fc.Arbitrary<LayerCase> => {
  const l = limits(constraints);
  return fc.record({
    kind: fc.constantFrom('avg', 'max'),
    size: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 3 }),
    pad: fc.integer({ min: 0, max: 1 }),
    ceilMode: fc.boolean(),
    h: fc.integer({ min: 1, max: l.size }),
    w: fc.integer({ min: 1, max: l.size }),
    c: fc.integer({ min: 1, max: l.ch }),
    batch: fc.integer({ min: 1, max: l.batch }),
    seed,
  }).filter((r) =>
    r.pad * 2 <= r.size && poolOutSize(r.h, r.size, r.stride, r.pad, r.ceilMode) >= 1 && poolOutSize(r.w, r.size, r.stride, r.pad, r.ceilMode) >= 1
  )
    .map((r) => {
      const o = { size: r.size, stride: r.stride, padding: r.pad, ceilMode: r.ceilMode };
      return mkCase(`${r.kind}Pool(${JSON.stringify(o)})`, r.kind === 'avg' ? avgPool(o) : maxPool(o), [r.h, r.w, r.c], r.batch, r.seed);
    });
};

/**
 * The parameter-free layers: activations, identity, flatten, dropout, global pooling.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(laws.noLeakProperty(laws.arbSimpleCase()), { numRuns: 10, seed: 1 });
 * ```
 */
export const arbSimpleCase = (constraints?: CaseConstraints): fc.Arbitrary<LayerCase> => {
  const l = limits(constraints);
  const layers: [string, AnyLayer][] = [
    ['relu', relu],
    ['sigmoid', sigmoid],
    ['tanh', tanh],
    ['silu', silu],
    ['gelu', gelu],
    ['leakyRelu', leakyRelu(0.1)],
    ['identity', identity],
    ['flatten', flatten],
    ['dropout', dropout({ rate: 0.3 })],
    ['globalAvgPool', globalAvgPool],
  ];
  return fc.record({
    i: fc.integer({ min: 0, max: layers.length - 1 }),
    h: fc.integer({ min: 1, max: l.size }),
    w: fc.integer({ min: 1, max: l.size }),
    c: fc.integer({ min: 1, max: l.ch }),
    batch: fc.integer({ min: 1, max: l.batch }),
    seed,
  }).map((r) => mkCase(layers[r.i][0], layers[r.i][1], [r.h, r.w, r.c], r.batch, r.seed));
};

/**
 * Combinators over small convs: serial, add, fanOut/parallel/fanInSum and fanInConcat.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(laws.shapeProperty(laws.arbCombinatorCase()), { numRuns: 10, seed: 1 });
 * ```
 */
export const arbCombinatorCase = (constraints?: CaseConstraints): fc.Arbitrary<LayerCase> => {
  const l = limits(constraints);
  return fc.record({
    kind: fc.constantFrom('serial', 'add', 'parallelSum', 'parallelConcat', 'lifted'),
    c: fc.integer({ min: 1, max: l.ch }),
    nf: fc.integer({ min: 1, max: l.ch }),
    h: fc.integer({ min: 2, max: l.size }),
    w: fc.integer({ min: 2, max: l.size }),
    batch: fc.integer({ min: 2, max: Math.max(2, l.batch) }),
    seed,
  }).map((r) => {
    const conv = (ks: number) => conv2d({ nf: r.nf, ks });
    const layer = r.kind === 'serial'
      ? serial(conv(3), batchNorm(), relu, conv2d({ nf: r.c, ks: 1 }))
      : r.kind === 'add'
      ? add(conv(3), conv(1))
      : r.kind === 'parallelSum'
      ? serial(fanOut(2), parallel(conv(3), conv(1)), fanInSum)
      : r.kind === 'parallelConcat'
      ? serial(fanOut(3), parallel(conv(3), identity, conv(1)), fanInConcat)
      : relu(serial(conv(3), batchNorm()));
    return mkCase(r.kind, layer, [r.h, r.w, r.c], r.batch, r.seed);
  });
};

/**
 * convLayer with random kernel, stride, activation and BatchNorm init.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(laws.gradientProperty(laws.arbConvLayerCase()), { numRuns: 3, seed: 1 });
 * ```
 */
export const arbConvLayerCase = (constraints?: CaseConstraints): fc.Arbitrary<LayerCase> => {
  const l = limits(constraints);
  return fc.record({
    ni: fc.integer({ min: 1, max: l.ch }),
    nf: fc.integer({ min: 1, max: l.ch }),
    ks: fc.constantFrom(1, 3),
    stride: fc.constantFrom(1, 2),
    act: fc.constantFrom('relu' as const, 'none' as const),
    bnInit: fc.constantFrom('one' as const, 'zero' as const),
    h: fc.integer({ min: 1, max: l.size }),
    w: fc.integer({ min: 1, max: l.size }),
    batch: fc.integer({ min: 2, max: Math.max(2, l.batch) }),
    seed,
  }).map((r) =>
    mkCase(
      `convLayer(${r.ni}, ${r.nf}, ${JSON.stringify({ ks: r.ks, stride: r.stride, act: r.act, bnInit: r.bnInit })})`,
      convLayer(r.ni, r.nf, { ks: r.ks, stride: r.stride, act: r.act, bnInit: r.bnInit }),
      [r.h, r.w, r.ni],
      r.batch,
      r.seed,
    )
  );
};

/**
 * ResBlock instances, odd sizes and both strides included.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(fc.asyncProperty(laws.arbResBlockParams(), (c) => laws.checkResBlockShape(c)), { numRuns: 3, seed: 1 });
 * ```
 */
export const arbResBlockParams = (
  constraints?: CaseConstraints & { readonly sameChannels?: boolean; readonly stride?: number },
): fc.Arbitrary<ResBlockCase> => {
  const l = limits(constraints);
  return fc.record({
    ni: fc.integer({ min: 1, max: l.ch }),
    nf: fc.integer({ min: 1, max: l.ch }),
    stride: constraints?.stride !== undefined ? fc.constant(constraints.stride) : fc.constantFrom(1, 2),
    h: fc.integer({ min: 1, max: l.size }),
    w: fc.integer({ min: 1, max: l.size }),
    batch: fc.integer({ min: 2, max: Math.max(2, l.batch) }),
    seed,
  }).map((r) => (constraints?.sameChannels ? { ...r, nf: r.ni } : r));
};

/**
 * ResBlock cases in the general {@link LayerCase} form.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 * import { installEngine } from 'tsnn/backend';
 *
 * installEngine(); // the NaN law needs the engine's NaN-propagating kernels
 * await fc.assert(laws.allProperty(laws.arbResBlockCase()), { numRuns: 2, seed: 1 });
 * ```
 */
export const arbResBlockCase = (constraints?: CaseConstraints): fc.Arbitrary<LayerCase> =>
  arbResBlockParams(constraints).map((r) =>
    mkCase(`resBlock(${r.ni}, ${r.nf}, ${r.stride})`, resBlock(r.ni, r.nf, r.stride), [r.h, r.w, r.ni], r.batch, r.seed)
  );

/**
 * Bottleneck blocks (1×1 → 3×3 → 1×1, ResNet-50's), with nf from 4 up (the
 * middle conv has nf/4 channels), odd sizes and both strides.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(laws.shapeProperty(laws.arbBottleneckCase()), { numRuns: 3, seed: 1 });
 * ```
 */
export const arbBottleneckCase = (constraints?: CaseConstraints): fc.Arbitrary<LayerCase> =>
  arbResBlockParams(constraints).map((r) => {
    const nf = r.nf + 3;
    return mkCase(`bottleneckBlock(${r.ni}, ${nf}, ${r.stride})`, bottleneckBlock(r.ni, nf, r.stride), [r.h, r.w, r.ni], r.batch, r.seed);
  });

/**
 * The end-of-chapter ResNet (`resNetArch`): a small stem, one or two stages of
 * one block, ResBlocks or bottleneck blocks.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(laws.shapeProperty(laws.arbResNetArchCase()), { numRuns: 2, seed: 1 });
 * ```
 */
export const arbResNetArchCase = (): fc.Arbitrary<LayerCase> =>
  fc.record({
    stages: fc.integer({ min: 1, max: 2 }),
    expansion: fc.constantFrom(1, 4),
    size: fc.integer({ min: 5, max: 12 }),
    batch: fc.integer({ min: 2, max: 3 }),
    seed,
  }).map((r) => {
    const layers = new Array(r.stages).fill(1);
    const layer = resNetArch(3, layers, { nIn: 1, stem: [2, 4], expansion: r.expansion });
    return mkCase(`resNetArch(3, [${layers}], { expansion: ${r.expansion} })`, layer, [r.size, r.size, 1], r.batch, r.seed);
  });

/**
 * The three chapter-14 models, with tiny channel counts.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(laws.shapeProperty(laws.arbModelCase()), { numRuns: 2, seed: 1 });
 * ```
 */
export const arbModelCase = (): fc.Arbitrary<LayerCase> =>
  fc.record({
    kind: fc.constantFrom('plain', 'resnet', 'resnet2'),
    firstStride: fc.constantFrom(1, 2),
    size: fc.integer({ min: 5, max: 9 }),
    batch: fc.integer({ min: 2, max: 3 }),
    seed,
  }).map((r) => {
    const o = { nIn: 1, nClasses: 3, channels: [2, 3, 4], firstStride: r.firstStride };
    const layer = r.kind === 'plain' ? plainNet(o) : r.kind === 'resnet' ? resNet(o) : resNet2(o);
    return mkCase(`${r.kind}(firstStride ${r.firstStride})`, layer, [r.size, r.size, 1], r.batch, r.seed);
  });

/**
 * Every built-in case family, for running all laws over the library.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 * import { installEngine } from 'tsnn/backend';
 *
 * installEngine(); // the NaN law needs the engine's NaN-propagating kernels
 * await fc.assert(laws.allProperty(laws.arbAnyCase()), { numRuns: 5, seed: 1 });
 * ```
 */
export const arbAnyCase = (constraints?: CaseConstraints): fc.Arbitrary<LayerCase> =>
  fc.oneof(
    arbConv2dCase(constraints),
    arbDenseCase(constraints),
    arbBatchNormCase(constraints),
    arbPoolCase(constraints),
    arbSimpleCase(constraints),
    arbCombinatorCase(constraints),
    arbConvLayerCase(constraints),
    arbResBlockCase(constraints),
    arbBottleneckCase(constraints),
  );
