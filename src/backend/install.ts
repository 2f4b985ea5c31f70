/**
 * The one call that installs the library's engine code: kernels, their ops'
 * implementations, and gradient rewrites. Nothing is installed on import;
 * `selectBackend` makes this call.
 *
 * @module
 */
import { installAdamKernel } from './adam_kernel.ts';
import { installBatchNormKernels } from './batchnorm_kernels.ts';
import { installConvGradients } from './conv_grad.ts';
import { installFiniteCheck } from './finite_kernel.ts';
import { installBatchNormFolding } from './fold_batchnorm.ts';
import { installMatMulGradient } from './matmul_grad.ts';
import { installNanKernels } from './nan_kernels.ts';
import { installAvgPoolGradient, installMaxPoolGradient } from './pool_grad.ts';
import { installSavedTensorSharing } from './saved_tensors.ts';
import { installWasmZeroCopy } from './wasm_kernels.ts';
import { installWebGpuAddN } from './webgpu_kernels.ts';
import { installWebGpuNanKernels } from './webgpu_nan_kernels.ts';

/**
 * Install every kernel, op implementation and gradient rewrite of the
 * library (idempotent). The kernels register for the wasm and cpu backends
 * (and mend the webgpu backend's AddN, Relu and MaxPool); the gradients apply on every backend.
 *
 * @example
 * ```ts
 * import { installEngine } from 'tsnn/backend';
 * installEngine();
 * ```
 */
export const installEngine = (): void => {
  installBatchNormKernels();
  installAdamKernel();
  installBatchNormFolding();
  installConvGradients();
  installMatMulGradient();
  installMaxPoolGradient();
  installAvgPoolGradient();
  installWasmZeroCopy();
  installSavedTensorSharing();
  installNanKernels();
  installFiniteCheck();
  installWebGpuAddN();
  installWebGpuNanKernels();
};
