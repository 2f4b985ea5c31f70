/**
 * Kernels that keep NaN a NaN on tfjs's WebGPU backend, where the stock
 * shaders turn it into a number.
 *
 * - `Relu`: stock is `select(a, 0.0, a < 0.0)`, which keeps NaN on paper,
 *   but WGSL lets a compiler assume no NaN, and Mesa folds it into
 *   `max(a, 0.0)`, which gives 0 for NaN.
 * - `MaxPool`: stock takes `max(value, best)` over the window (NaN dropped
 *   the same way) and, for a window over the whole image, a `Max` reduction
 *   that drops it too. PyTorch's max pool gives NaN for a window holding one.
 *
 * Both test for NaN on the value's bits (`isnan` of tfjs's shader prelude,
 * integer operations a compiler cannot fold), so they hold under any
 * compiler. A NaN in a poisoned batch then reaches the loss, and `fit`'s
 * divergence guard sees it. The NaN law of `tsnn/laws` checks both.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { replaceKernel } from './replace_kernel.ts';

/**
 * tfjs-core's kernel types under private aliases: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); an `@ignore`d alias silences just that.
 *
 * @ignore
 */
type TensorInfo = tf.TensorInfo;

/** The part of tfjs-backend-webgpu's `WebGPUProgram` a flat, one-input program fills in. */
interface FlatProgram {
  readonly outputShape: number[];
  shaderKey: string;
  readonly variableNames: string[];
  readonly workgroupSize: [number, number, number];
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  readonly size: true;
  readonly uniforms?: string;
  getUserCode(): string;
}

interface WebGpuRunner {
  runWebGPUProgram(program: FlatProgram, inputs: TensorInfo[], dtype: 'float32', uniforms?: { type: 'int32'; data: number[] }[]): TensorInfo;
}

const WORKGROUP = 128;

/** A program with one thread per output value, reading the input `x`, as tfjs's unary and pool programs are laid out. */
const flatProgram = (outputShape: number[], shaderKey: string, body: string, uniforms?: string): FlatProgram => ({
  outputShape,
  shaderKey,
  variableNames: ['x'],
  workgroupSize: [WORKGROUP, 1, 1],
  dispatchLayout: { x: outputShape.map((_, i) => i) },
  dispatch: [Math.ceil(outputShape.reduce((a, b) => a * b, 1) / WORKGROUP), 1, 1],
  size: true,
  ...(uniforms ? { uniforms } : {}),
  getUserCode: () => `
    fn main(index : i32) {
      if (index < uniforms.size) {
        ${body}
      }
    }`,
});

const reluKernel = (stock: tf.KernelConfig): tf.KernelConfig => ({
  ...stock,
  kernelFunc: (args) => {
    const x = args.inputs.x as TensorInfo;
    if (x.dtype !== 'float32') return stock.kernelFunc(args);
    const program = flatProgram(
      [...x.shape],
      'tsnn_relu_nan',
      `let a = getXByOutputIndex(index);
        setOutputAtIndex(index, select(select(a, 0.0, a < 0.0), a, isnan(a)));`,
    );
    return (args.backend as unknown as WebGpuRunner).runWebGPUProgram(program, [x], 'float32');
  },
});

/** The attrs of tfjs's `MaxPool` kernel. */
interface MaxPoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const maxPoolKernel = (stock: tf.KernelConfig): tf.KernelConfig => ({
  ...stock,
  kernelFunc: (args) => {
    const x = args.inputs.x as TensorInfo;
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as MaxPoolAttrs;
    const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    // A 1×1 window copies or picks values, NaN included.
    if (x.dtype !== 'float32' || (info.filterHeight === 1 && info.filterWidth === 1)) return stock.kernelFunc(args);
    const program = flatProgram(
      info.outShape,
      'tsnn_maxpool_nan',
      `let coords = getCoordsFromIndex(index);
        let corner = vec2<i32>(coords.yz) * uniforms.strides - uniforms.pads;
        var best = -uniforms.INFINITY;
        var nan = 0.0;
        var hasNan = false;
        for (var wR = 0; wR < uniforms.filterDims.x; wR++) {
          let xR = corner.x + wR;
          if (xR < 0 || xR >= uniforms.convDims.x) { continue; }
          for (var wC = 0; wC < uniforms.filterDims.y; wC++) {
            let xC = corner.y + wC;
            if (xC < 0 || xC >= uniforms.convDims.y) { continue; }
            let value = getX(coords[0], xR, xC, coords[3]);
            if (isnan(value)) { nan = value; hasNan = true; } else if (value > best) { best = value; }
          }
        }
        setOutputAtIndex(index, select(best, nan, hasNan));`,
      'strides : vec2<i32>, pads : vec2<i32>, convDims : vec2<i32>, filterDims : vec2<i32>,',
    );
    return (args.backend as unknown as WebGpuRunner).runWebGPUProgram(program, [x], 'float32', [
      { type: 'int32', data: [info.strideHeight, info.strideWidth] },
      { type: 'int32', data: [info.padInfo.top, info.padInfo.left] },
      { type: 'int32', data: [info.inHeight, info.inWidth] },
      { type: 'int32', data: [info.filterHeight, info.filterWidth] },
    ]);
  },
});

/**
 * Install the NaN-keeping `Relu` and `MaxPool` on the webgpu backend
 * (idempotent; nothing before tfjs-backend-webgpu is loaded).
 *
 * @example
 * ```ts
 * import { installWebGpuNanKernels } from './webgpu_nan_kernels.ts';
 *
 * installWebGpuNanKernels(); // selectBackend({ backend: 'webgpu' }) calls it once the backend is loaded
 * ```
 */
export const installWebGpuNanKernels = (): void => {
  replaceKernel('Relu', 'webgpu', reluKernel);
  replaceKernel('MaxPool', 'webgpu', maxPoolKernel);
};
