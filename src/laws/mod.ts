/**
 * The laws of layers, exported so users can check their own blocks.
 *
 * Each `check*` function checks one case and throws a `LawError` when the
 * law fails; each `*Property` wraps one in a fast-check property over an
 * arbitrary of cases.
 *
 * @example
 * import fc from 'fast-check';
 * import { laws, resBlock } from './mod.ts';
 * fc.assert(laws.shapeProperty(laws.arbResBlockCase()), { numRuns: 20 });
 *
 * @module
 */
import fc from 'fast-check';
import {
  checkAll,
  checkDeterminism,
  checkGradient,
  checkNoLeak,
  checkPurity,
  checkShape,
  type GradientOptions,
  type LayerCase,
} from './checks.ts';
import { checkResBlockAtInit, checkResBlockIdentity, checkResBlockShape, type ResBlockCase } from './residual.ts';

export * from './checks.ts';
export * from './residual.ts';
export * from './arbitraries.ts';

/**
 * The shape law over an arbitrary of cases.
 *
 * @example
 * fc.assert(laws.shapeProperty(laws.arbConv2dCase()));
 */
export const shapeProperty = (arb: fc.Arbitrary<LayerCase>) => fc.property(arb, (c) => checkShape(c));
/**
 * The purity law over an arbitrary of cases.
 *
 * @example
 * fc.assert(laws.purityProperty(laws.arbConv2dCase()));
 */
export const purityProperty = (arb: fc.Arbitrary<LayerCase>) => fc.property(arb, (c) => checkPurity(c));
/**
 * The determinism law over an arbitrary of cases.
 *
 * @example
 * fc.assert(laws.determinismProperty(laws.arbConv2dCase()));
 */
export const determinismProperty = (arb: fc.Arbitrary<LayerCase>) => fc.property(arb, (c) => checkDeterminism(c));
/**
 * The gradient law over an arbitrary of cases.
 *
 * @example
 * fc.assert(laws.gradientProperty(laws.arbConv2dCase(), { training: false }), { numRuns: 10 });
 */
export const gradientProperty = (arb: fc.Arbitrary<LayerCase>, opts?: GradientOptions) =>
  fc.property(arb, (c) => checkGradient(c, opts));
/**
 * The no-leak law over an arbitrary of cases.
 *
 * @example
 * fc.assert(laws.noLeakProperty(laws.arbConv2dCase()));
 */
export const noLeakProperty = (arb: fc.Arbitrary<LayerCase>) => fc.property(arb, (c) => checkNoLeak(c));
/**
 * All general laws over an arbitrary of cases.
 *
 * @example
 * fc.assert(laws.allProperty(myCases), { numRuns: 10 });
 */
export const allProperty = (arb: fc.Arbitrary<LayerCase>, opts?: GradientOptions) =>
  fc.property(arb, (c) => checkAll(c, opts));

/**
 * ResBlock output shape `[b, ceil(h/s), ceil(w/s), nf]`.
 *
 * @example
 * fc.assert(laws.resBlockShapeProperty(laws.arbResBlockParams({ maxSize: 9 })));
 */
export const resBlockShapeProperty = (arb: fc.Arbitrary<ResBlockCase>) => fc.property(arb, (c) => checkResBlockShape(c));
/**
 * ResBlock at init equals `relu(idconv(pool(x)))`.
 *
 * @example
 * fc.assert(laws.resBlockAtInitProperty(laws.arbResBlockParams()));
 */
export const resBlockAtInitProperty = (arb: fc.Arbitrary<ResBlockCase>) => fc.property(arb, (c) => checkResBlockAtInit(c));
/**
 * ResBlock with `ni == nf`, stride 1, at init equals `relu(x)`.
 *
 * @example
 * fc.assert(laws.resBlockIdentityProperty(laws.arbResBlockParams({ sameChannels: true, stride: 1 })));
 */
export const resBlockIdentityProperty = (arb: fc.Arbitrary<ResBlockCase>) =>
  fc.property(arb, (c) => checkResBlockIdentity({ ...c, nf: c.ni, stride: 1 }));
