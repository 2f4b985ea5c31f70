/**
 * tsnn: a functional neural-network library for TypeScript, on Node and Deno.
 *
 * Layers are pairs of pure functions over explicit parameter records; blocks
 * are combinator expressions; the laws every layer obeys are exported as
 * fast-check properties.
 *
 * @example
 * import * as tf from '@tensorflow/tfjs';
 * import fc from 'fast-check';
 * import { laws, prngKey, resBlock, resNet } from './mod.ts';
 *
 * const model = resNet({ nIn: 1, nClasses: 10 });
 * const { params, state, outShape } = model.init(prngKey(0), [28, 28, 1]); // outShape [10]
 * const { y } = model.apply(params, state, tf.zeros([2, 28, 28, 1]), { training: false });
 * fc.assert(laws.resBlockShapeProperty(laws.arbResBlockParams()), { numRuns: 10 });
 *
 * @module
 */

// Core types and PRNG
export * from './src/random.ts';
export * from './src/layer.ts';
export * from './src/tree.ts';
export * from './src/errors.ts';
export { decodeOrThrow, Finite, NonNegativeInt, Positive, PositiveInt, UnitInterval } from './src/config.ts';

// Layers
export * from './src/layers/conv.ts';
export * from './src/layers/dense.ts';
export * from './src/layers/batchnorm.ts';
export * from './src/layers/activations.ts';
export * from './src/layers/pooling.ts';
export * from './src/layers/shape_ops.ts';
export { kaimingNormal, lecunUniform } from './src/layers/init.ts';

// Combinators and blocks
export * from './src/combinators.ts';
export * from './src/blocks.ts';

// Running and differentiating
export * from './src/apply.ts';
export * from './src/autodiff.ts';

// Laws
export * as laws from './src/laws/mod.ts';

// Optimizers and schedules
export * from './src/optim/base.ts';
export * from './src/optim/transforms.ts';
export * from './src/optim/chain.ts';
export * from './src/optim/aliases.ts';
export * from './src/optim/schedules.ts';

// Training
export * from './src/train/losses.ts';
export * from './src/train/metrics.ts';
export * from './src/train/step.ts';
export * from './src/train/observers.ts';
export * from './src/train/fit.ts';
export * from './src/train/lr_find.ts';

// Data
export * from './src/data/loader.ts';

// Checkpoints
export * from './src/io/safetensors.ts';
export * from './src/io/checkpoint.ts';

// Backends
export * from './src/backend_info.ts';
export * from './src/backend/select.ts';
export { conv2dFilterGrad, conv2dInputGrad, installConvGradients } from './src/backend/conv_grad.ts';
export { installMatMulGradient } from './src/backend/matmul_grad.ts';
export { installWasmZeroCopy } from './src/backend/wasm_kernels.ts';
export * from './src/data/idx.ts';
export * from './src/data/fashion_mnist.ts';
export * from './src/data/image_folder.ts';

// Data-parallel training
export * from './src/parallel/data_parallel.ts';
export type { ModelSpec } from './src/parallel/protocol.ts';
