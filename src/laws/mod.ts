/**
 * The laws of layers, exported so users can check their own blocks.
 *
 * Each `check*` function checks one case and is async: it rejects with a
 * `LawError` when the law fails (it reads values with `await t.data()`, the
 * only read a WebGPU backend allows). Each `*Property` wraps one in a
 * fast-check async property over an arbitrary of cases, so `fc.assert`
 * returns a promise: `await fc.assert(laws.shapeProperty(arb))`. A property
 * asserted without `await` can never fail.
 *
 * The residual laws take any block factory `(ni, nf, stride) => Layer`, and
 * where its shortcut lives (see `ResidualBlock` in `residual.ts`).
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbResBlockCase } from 'tsnn/laws';
 * import { resBlock } from 'tsnn';
 * await fc.assert(shapeProperty(arbResBlockCase()), { numRuns: 5, seed: 1 });
 * await fc.assert(residualProperty(resBlock), { numRuns: 5, seed: 1 });
 * ```
 *
 * @module
 */
import fc from 'fast-check';
import {
  checkAll,
  checkDeterminism,
  checkGradient,
  checkNanPropagation,
  checkNoLeak,
  checkPurity,
  checkShape,
  type GradientOptions,
  type LayerCase,
} from './checks.ts';
import { resBlock } from '../blocks.ts';
import { arbResBlockParams } from './arbitraries.ts';
import {
  checkResidual,
  checkResidualAtInit,
  checkResidualIdentity,
  checkResidualShape,
  checkResidualShortcut,
  type ResBlockCase,
  type ResidualSubject,
} from './residual.ts';

export * from './checks.ts';
export * from './residual.ts';
export * from './arbitraries.ts';

/**
 * The shape law over an arbitrary of cases.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbConv2dCase } from 'tsnn/laws';
 * await fc.assert(shapeProperty(arbConv2dCase()), { numRuns: 3, seed: 1 });
 * ```
 */
export const shapeProperty = (arb: fc.Arbitrary<LayerCase>): fc.IAsyncPropertyWithHooks<[LayerCase]> => fc.asyncProperty(arb, (c) => checkShape(c));
/**
 * The purity law over an arbitrary of cases.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbConv2dCase } from 'tsnn/laws';
 * await fc.assert(purityProperty(arbConv2dCase()), { numRuns: 3, seed: 1 });
 * ```
 */
export const purityProperty = (arb: fc.Arbitrary<LayerCase>): fc.IAsyncPropertyWithHooks<[LayerCase]> => fc.asyncProperty(arb, (c) => checkPurity(c));
/**
 * The determinism law over an arbitrary of cases.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbConv2dCase } from 'tsnn/laws';
 * await fc.assert(determinismProperty(arbConv2dCase()), { numRuns: 3, seed: 1 });
 * ```
 */
export const determinismProperty = (arb: fc.Arbitrary<LayerCase>): fc.IAsyncPropertyWithHooks<[LayerCase]> => fc.asyncProperty(arb, (c) => checkDeterminism(c));
/**
 * The gradient law over an arbitrary of cases.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbConv2dCase } from 'tsnn/laws';
 * await fc.assert(gradientProperty(arbConv2dCase(), { training: false }), { numRuns: 3, seed: 1 });
 * ```
 */
export const gradientProperty = (arb: fc.Arbitrary<LayerCase>, opts?: GradientOptions): fc.IAsyncPropertyWithHooks<[LayerCase]> =>
  fc.asyncProperty(arb, (c) => checkGradient(c, opts));
/**
 * The no-leak law over an arbitrary of cases.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbConv2dCase } from 'tsnn/laws';
 * await fc.assert(noLeakProperty(arbConv2dCase()), { numRuns: 3, seed: 1 });
 * ```
 */
export const noLeakProperty = (arb: fc.Arbitrary<LayerCase>): fc.IAsyncPropertyWithHooks<[LayerCase]> => fc.asyncProperty(arb, (c) => checkNoLeak(c));
/**
 * The NaN law over an arbitrary of cases.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { installEngine } from 'tsnn/backend';
 * import { arbPoolCase } from 'tsnn/laws';
 *
 * installEngine(); // stock tfjs cpu pooling skips NaN; the engine's kernels propagate it
 * await fc.assert(nanPropagationProperty(arbPoolCase()), { numRuns: 3, seed: 1 });
 * ```
 */
export const nanPropagationProperty = (arb: fc.Arbitrary<LayerCase>): fc.IAsyncPropertyWithHooks<[LayerCase]> =>
  fc.asyncProperty(arb, (c) => checkNanPropagation(c));

/**
 * All general laws over an arbitrary of cases.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbDenseCase } from 'tsnn/laws';
 * await fc.assert(allProperty(arbDenseCase()), { numRuns: 3, seed: 1 });
 * ```
 */
export const allProperty = (arb: fc.Arbitrary<LayerCase>, opts?: GradientOptions): fc.IAsyncPropertyWithHooks<[LayerCase]> =>
  fc.asyncProperty(arb, (c) => checkAll(c, opts));

// ---------------------------------------------------------------------------
// Residual laws over any block factory
// ---------------------------------------------------------------------------

/**
 * The residual shape law ({@link checkResidualShape}) for a block factory,
 * over an arbitrary of cases (default {@link arbResBlockParams}).
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbResBlockParams } from 'tsnn/laws';
 * import { resBlock } from 'tsnn';
 * await fc.assert(residualShapeProperty(resBlock, arbResBlockParams({ maxSize: 9 })), { numRuns: 5, seed: 1 });
 * ```
 */
export const residualShapeProperty = (
  subject: ResidualSubject,
  arb: fc.Arbitrary<ResBlockCase> = arbResBlockParams(),
): fc.IAsyncPropertyWithHooks<[ResBlockCase]> => fc.asyncProperty(arb, (c) => checkResidualShape(subject, c));
/**
 * The residual at-init law ({@link checkResidualAtInit}): at init the block equals `relu(shortcut(x) + b)`, b a small per-channel constant (the residual branch's last BatchNorm bias).
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { resBlock } from 'tsnn';
 * await fc.assert(residualAtInitProperty(resBlock), { numRuns: 5, seed: 1 });
 * ```
 */
export const residualAtInitProperty = (
  subject: ResidualSubject,
  arb: fc.Arbitrary<ResBlockCase> = arbResBlockParams(),
): fc.IAsyncPropertyWithHooks<[ResBlockCase]> => fc.asyncProperty(arb, (c) => checkResidualAtInit(subject, c));
/**
 * The residual identity law ({@link checkResidualIdentity}): each case is
 * taken with `nf = ni` and stride 1, where at init the block is `relu(x + b)`.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { resBlock } from 'tsnn';
 * await fc.assert(residualIdentityProperty(resBlock), { numRuns: 5, seed: 1 });
 * ```
 */
export const residualIdentityProperty = (
  subject: ResidualSubject,
  arb: fc.Arbitrary<ResBlockCase> = arbResBlockParams(),
): fc.IAsyncPropertyWithHooks<[ResBlockCase]> => fc.asyncProperty(arb, (c) => checkResidualIdentity(subject, { ...c, nf: c.ni, stride: 1 }));
/**
 * The residual shortcut law ({@link checkResidualShortcut}): the block uses its shortcut.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { resBlock } from 'tsnn';
 * await fc.assert(residualShortcutProperty(resBlock), { numRuns: 5, seed: 1 });
 * ```
 */
export const residualShortcutProperty = (
  subject: ResidualSubject,
  arb: fc.Arbitrary<ResBlockCase> = arbResBlockParams(),
): fc.IAsyncPropertyWithHooks<[ResBlockCase]> => fc.asyncProperty(arb, (c) => checkResidualShortcut(subject, c));
/**
 * Every residual law ({@link checkResidual}) for a block factory: pass a
 * bare factory for fastai's layout (`relu(add(convs, serial(pool, idconv)))`),
 * or say where your block keeps its shortcut.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { resBlock } from 'tsnn';
 * await fc.assert(residualProperty(resBlock), { numRuns: 5, seed: 1 });
 * // Your own block, its shortcut under the label 'skip':
 * // await fc.assert(residualProperty({ block: myBlock, shortcut: myShortcut, shortcutPath: 'skip' }));
 * ```
 */
export const residualProperty = (
  subject: ResidualSubject,
  arb: fc.Arbitrary<ResBlockCase> = arbResBlockParams(),
): fc.IAsyncPropertyWithHooks<[ResBlockCase]> => fc.asyncProperty(arb, (c) => checkResidual(subject, c));

/**
 * ResBlock output shape `[b, ceil(h/s), ceil(w/s), nf]`: {@link residualShapeProperty} for `resBlock`.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbResBlockParams } from 'tsnn/laws';
 * await fc.assert(resBlockShapeProperty(arbResBlockParams({ maxSize: 9 })), { numRuns: 5, seed: 1 });
 * ```
 */
export const resBlockShapeProperty = (arb: fc.Arbitrary<ResBlockCase>): fc.IAsyncPropertyWithHooks<[ResBlockCase]> => residualShapeProperty(resBlock, arb);
/**
 * ResBlock at init equals `relu(idconv(pool(x)) + 1e-3)`: {@link residualAtInitProperty} for `resBlock`.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbResBlockParams } from 'tsnn/laws';
 * await fc.assert(resBlockAtInitProperty(arbResBlockParams()), { numRuns: 5, seed: 1 });
 * ```
 */
export const resBlockAtInitProperty = (arb: fc.Arbitrary<ResBlockCase>): fc.IAsyncPropertyWithHooks<[ResBlockCase]> => residualAtInitProperty(resBlock, arb);
/**
 * ResBlock with `ni == nf`, stride 1, at init equals `relu(x + b)`: {@link residualIdentityProperty} for `resBlock`.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbResBlockParams } from 'tsnn/laws';
 * await fc.assert(resBlockIdentityProperty(arbResBlockParams({ sameChannels: true, stride: 1 })), { numRuns: 5, seed: 1 });
 * ```
 */
export const resBlockIdentityProperty = (arb: fc.Arbitrary<ResBlockCase>): fc.IAsyncPropertyWithHooks<[ResBlockCase]> =>
  residualIdentityProperty(resBlock, arb);
