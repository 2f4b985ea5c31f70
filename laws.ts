/**
 * tsnn/laws: the laws every layer obeys, as checks and fast-check
 * properties, to run on your own layers and blocks: shape agreement with
 * `init`, purity, determinism, gradients against finite differences, no
 * leaked tensors, checkpoint round trips, and fastai's residual invariants
 * over any block factory.
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import * as laws from 'tsnn/laws';
 *
 * await fc.assert(laws.shapeProperty(laws.arbSimpleCase()), { numRuns: 5, seed: 1 });
 * ```
 *
 * @module
 */
export * from './src/laws/mod.ts';
