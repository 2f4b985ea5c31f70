/**
 * tsnn/backend: the engine's extension points. `selectBackend` (in the main
 * entry) installs everything here with one call, `installEngine`; these
 * exports are for engine authors: the kernels and gradient rewrites one by
 * one, the ops' slots where another engine plugs its own implementations,
 * the wasm assembler the SIMD kernels are built with, and the ops
 * themselves.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adamStep, adamStepSlot, installEngine } from 'tsnn/backend';
 *
 * installEngine(); // what selectBackend does
 * // An engine of your own: decline (undefined) whatever it cannot run, and the op runs its math.
 * adamStepSlot.install((_g, _m, _v, _h, _p) => undefined);
 * const [mu, nu, u] = adamStep(tf.ones([2]), tf.zeros([2]), tf.zeros([2]), { b1: 0.9, b2: 0.999, c1: 0.1, c2: 0.001, eps: 1e-8, epsRoot: 0 });
 * console.log(Array.from(u.dataSync(), (v) => +v.toFixed(5))); // [1, 1]
 * ```
 *
 * @module
 */

// The one call, and its parts
export { installEngine } from './src/backend/install.ts';
export { batchNormTrainBackward, batchNormTrainForward, hasBatchNormKernels, installBatchNormKernels } from './src/backend/batchnorm_kernels.ts';
export { installAdamKernel } from './src/backend/adam_kernel.ts';
export { installBatchNormFolding } from './src/backend/fold_batchnorm.ts';
export { conv2dFilterGrad, conv2dInputGrad, installConvGradients, rotate180 } from './src/backend/conv_grad.ts';
export { installMatMulGradient } from './src/backend/matmul_grad.ts';
export { installAvgPoolGradient, installMaxPoolGradient } from './src/backend/pool_grad.ts';
export { installWasmZeroCopy } from './src/backend/wasm_kernels.ts';
export { installSavedTensorSharing } from './src/backend/saved_tensors.ts';
export { installNanKernels } from './src/backend/nan_kernels.ts';
export { installFiniteCheck } from './src/backend/finite_kernel.ts';
export { releaseTapeOnThrow } from './src/backend/tape.ts';
export { extendGradient } from './src/backend/extend_gradient.ts';
export { setBackendReason } from './src/backend_info.ts';

// Building kernels
export { type KernelIo, kernelIo } from './src/backend/kernel_io.ts';
export {
  assembleModule,
  F32,
  forLoop,
  I32,
  instancePerMemory,
  type KernelTarget,
  madd,
  type MemoryKind,
  op,
  preferRelaxedSimd,
  relaxedSimdInUse,
  relaxedSimdSupported,
  V128,
  wasmBackendMemory,
  type WasmFunction,
} from './src/backend/wasm_asm.ts';

// The ops and their slots
export { type Slot, slot } from './src/ops/slot.ts';
export {
  batchNormRunningStats,
  type BatchNormStatsImpl,
  batchNormStatsSlot,
  batchNormTrain,
  type BatchNormTrainImpl,
  batchNormTrainSlot,
  type Normalisation,
  type RunningStats,
} from './src/ops/batchnorm.ts';
export { adamStep, type AdamStepHypers, type AdamStepImpl, adamStepSlot } from './src/ops/adam.ts';
export { allFinite, type AllFiniteImpl, allFiniteSlot, finiteCheck } from './src/ops/finite.ts';
export {
  type ConvBatchNormGeometry,
  type ConvBatchNormImpl,
  convBatchNormInference,
  convBatchNormSlot,
  type ConvBatchNormTensors,
} from './src/ops/conv_batchnorm.ts';
