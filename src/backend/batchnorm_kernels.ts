/**
 * Training-mode BatchNorm as two kernels, forward and backward, on the wasm
 * and cpu backends (tfjs's public `registerKernel`), behind the BatchNorm ops
 * of `ops/batchnorm.ts`. As tfjs ops, a BatchNorm
 * is about 25 small kernels per training step, and at the chapter-14 sizes
 * their fixed cost outweighs the arithmetic; here each direction is one
 * kernel: per-channel sums, then one fused elementwise pass (and a third,
 * small kernel updates the running statistics). On wasm the passes are SIMD
 * functions assembled at load time (channels in groups of four); other
 * channel counts, and the cpu backend, run the same arithmetic in JS. Sums
 * are taken in blocks of rows and accumulated in float64.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { batchNormStatsSlot, batchNormTrainSlot, type Normalisation, type RunningStats } from '../ops/batchnorm.ts';
import { type KernelIo, kernelIo } from './kernel_io.ts';
import { assembleModule, forLoop, I32, instancePerMemory, type KernelTarget, madd, op, V128, type WasmFunction } from './wasm_asm.ts';

/** Rows summed per block before the float64 accumulation. */
const BLOCK = 256;

// ---------------------------------------------------------------------------
// The arithmetic, on plain arrays (cpu, and wasm without SIMD)
// ---------------------------------------------------------------------------

/**
 * A new float64 vector of `f(j)` over `c` channels. A plain loop: typed-array
 * `map` and `Float64Array.from(x, f)` cost 6 and 30 µs on 256 channels.
 */
const perChannel = (c: number, f: (j: number) => number): Float64Array => {
  const out = new Float64Array(c);
  for (let j = 0; j < c; j++) out[j] = f(j);
  return out;
};

/** Per-channel Σx over `rows` rows of `c` channels, in float64. */
const jsSum = (x: Float32Array, rows: number, c: number): Float64Array => {
  const s = new Float64Array(c);
  for (let r = 0, o = 0; r < rows; r++) for (let j = 0; j < c; j++, o++) s[j] += x[o];
  return s;
};

/** Per-channel Σ(x − m)². */
const jsSumSqDev = (x: Float32Array, rows: number, c: number, m: Float64Array): Float64Array => {
  const s = new Float64Array(c);
  for (let r = 0, o = 0; r < rows; r++) {
    for (let j = 0; j < c; j++, o++) {
      const d = x[o] - m[j];
      s[j] += d * d;
    }
  }
  return s;
};

/** Per-channel Σdy and Σdy·(x − m). */
const jsSumGrad = (dy: Float32Array, x: Float32Array, rows: number, c: number, m: Float64Array): [Float64Array, Float64Array] => {
  const s1 = new Float64Array(c), s2 = new Float64Array(c);
  for (let r = 0, o = 0; r < rows; r++) {
    for (let j = 0; j < c; j++, o++) {
      s1[j] += dy[o];
      s2[j] += dy[o] * (x[o] - m[j]);
    }
  }
  return [s1, s2];
};

/** out = x·a + b, per channel. */
const jsAffine = (x: Float32Array, rows: number, c: number, a: Float64Array, b: Float64Array, out: Float32Array): void => {
  for (let r = 0, o = 0; r < rows; r++) for (let j = 0; j < c; j++, o++) out[o] = x[o] * a[j] + b[j];
};

/** out = dy·a + x·b + k, per channel. */
const jsAffine2 = (dy: Float32Array, x: Float32Array, rows: number, c: number, a: Float64Array, b: Float64Array, k: Float64Array, out: Float32Array): void => {
  for (let r = 0, o = 0; r < rows; r++) for (let j = 0; j < c; j++, o++) out[o] = dy[o] * a[j] + x[o] * b[j] + k[j];
};

// ---------------------------------------------------------------------------
// The same passes as wasm SIMD functions (pointers are byte offsets)
// ---------------------------------------------------------------------------

/** Addressing inside a pass: `at(p)` is `p + row + j` (the current element), `col(p)` is `p + j` (its channel group), `tmp(i)` a v128 local. */
interface Addressing {
  at(p: number): number[];
  col(p: number): number[];
  tmp(i: number): number;
}

/** The pieces of a pass over rows × four-channel groups: code before, inside and after the inner loop. */
interface LoopBody {
  before?(a: Addressing): number[];
  each(a: Addressing): number[];
  after?(a: Addressing): number[];
}

/**
 * A pass over every element: two nested loops, over rows (byte offset `row`,
 * step rowBytes) and four-channel groups (`j`, step 16). `rowsOuter` walks
 * row by row (elementwise passes); otherwise each channel group walks down
 * the rows, so that column sums accumulate in v128 locals (accumulating into
 * memory row by row made every add wait on the previous store). Params 0..k-1
 * are pointers, then rows, rowBytes; locals: end, row, j, then `v128s` v128s.
 */
const pass = (name: string, pointers: number, v128s: number, rowsOuter: boolean, body: LoopBody): WasmFunction => {
  const ROWS = pointers, RB = pointers + 1, END = pointers + 2, ROW = pointers + 3, J = pointers + 4;
  const a: Addressing = {
    at: (p) => [...op.get(p), ...op.get(ROW), ...op.i32Add, ...op.get(J), ...op.i32Add],
    col: (p) => [...op.get(p), ...op.get(J), ...op.i32Add],
    tmp: (i) => J + 1 + i,
  };
  const rowLoop = (inside: number[]) => forLoop(ROW, op.get(END), op.get(RB), inside);
  const colLoop = (inside: number[]) => forLoop(J, op.get(RB), op.i32Const(16), inside);
  const inner = [...(body.before?.(a) ?? []), ...(rowsOuter ? colLoop : rowLoop)(body.each(a)), ...(body.after?.(a) ?? [])];
  return {
    name,
    params: Array(pointers + 2).fill(I32),
    locals: [[3, I32], [v128s, V128]],
    body: [...op.get(ROWS), ...op.get(RB), ...op.i32Mul, ...op.set(END), ...(rowsOuter ? rowLoop : colLoop)(inner)],
  };
};

const ld = op.v128Load, st = op.v128Store, add = op.f32x4Add, sub = op.f32x4Sub, mul = op.f32x4Mul;
const zero = (i: number) => [...op.v128Zero, ...op.set(i)];
const accumulate = (i: number, value: number[]) => [...op.get(i), ...value, ...add, ...op.set(i)];

/** The passes; with relaxed SIMD, each multiply-add is one fused instruction. */
const kernels = (target: KernelTarget): Uint8Array => {
  const fma = (a: number[], b: number[], c: number[]) => madd(a, b, c, target.relaxedSimd);
  return assembleModule([
    // sum(x, out; rows, rowBytes): out[j] = Σ_rows x[row + j]
    pass('sum', 2, 1, false, {
      before: ({ tmp }) => zero(tmp(0)),
      each: ({ at, tmp }) => accumulate(tmp(0), [...at(0), ...ld]),
      after: ({ col, tmp }) => [...col(1), ...op.get(tmp(0)), ...st],
    }),
    // sumSqDev(x, mean, out): out[j] = Σ (x − mean)²; locals acc, mean, d
    pass('sumSqDev', 3, 3, false, {
      before: ({ col, tmp }) => [...zero(tmp(0)), ...col(1), ...ld, ...op.set(tmp(1))],
      each: ({ at, tmp }) => [
        ...at(0),
        ...ld,
        ...op.get(tmp(1)),
        ...sub,
        ...op.set(tmp(2)),
        ...fma(op.get(tmp(2)), op.get(tmp(2)), op.get(tmp(0))),
        ...op.set(tmp(0)),
      ],
      after: ({ col, tmp }) => [...col(2), ...op.get(tmp(0)), ...st],
    }),
    // sumGrad(dy, x, mean, s1, s2): s1[j] = Σ dy; s2[j] = Σ dy·(x − mean); locals a1, a2, mean, dy
    pass('sumGrad', 5, 4, false, {
      before: ({ col, tmp }) => [...zero(tmp(0)), ...zero(tmp(1)), ...col(2), ...ld, ...op.set(tmp(2))],
      each: ({ at, tmp }) => [
        ...at(0),
        ...ld,
        ...op.set(tmp(3)),
        ...accumulate(tmp(0), op.get(tmp(3))),
        ...fma(op.get(tmp(3)), [...at(1), ...ld, ...op.get(tmp(2)), ...sub], op.get(tmp(1))),
        ...op.set(tmp(1)),
      ],
      after: ({ col, tmp }) => [...col(3), ...op.get(tmp(0)), ...st, ...col(4), ...op.get(tmp(1)), ...st],
    }),
    // affine(x, a, b, out): out = x·a + b
    pass('affine', 4, 0, true, { each: ({ at, col }) => [...at(3), ...fma([...at(0), ...ld], [...col(1), ...ld], [...col(2), ...ld]), ...st] }),
    // affine2(dy, x, a, b, k, out): out = dy·a + x·b + k (fused: dy·a + (x·b + k))
    pass('affine2', 6, 0, true, {
      each: ({ at, col }) => [
        ...at(5),
        ...(target.relaxedSimd
          ? fma([...at(0), ...ld], [...col(2), ...ld], fma([...at(1), ...ld], [...col(3), ...ld], [...col(4), ...ld]))
          : [...at(0), ...ld, ...col(2), ...ld, ...mul, ...at(1), ...ld, ...col(3), ...ld, ...mul, ...add, ...col(4), ...ld, ...add]),
        ...st,
      ],
    }),
  ], target);
};

type Simd = Record<'sum' | 'sumSqDev' | 'sumGrad' | 'affine' | 'affine2', (...args: number[]) => void>;
const simdFor = instancePerMemory<Simd>(kernels);

// ---------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------

type Info = tf.TensorInfo;

/**
 * The SIMD passes with `slots` per-channel vectors of `c` floats in the
 * backend's scratch area (slot i at byte `at(i)`), where the channel count
 * allows them (groups of four); undefined on cpu or without SIMD.
 */
const simdPasses = (backend: unknown, io: KernelIo, c: number, slots: number) => {
  const fns = io.wasm && c % 4 === 0 ? simdFor(backend) : null;
  if (!io.wasm || !fns) return undefined;
  const w = io.wasm, base = w.scratch(slots * c);
  const at = (slot: number) => base + slot * c * 4;
  return {
    fns,
    ptr: w.ptr,
    at,
    put: (slot: number, v: ArrayLike<number>) => w.floats(at(slot), c).set(v),
    get: (slot: number) => w.floats(at(slot), c),
  };
};
type Passes = NonNullable<ReturnType<typeof simdPasses>>;

/**
 * Per-channel sums of one or two column passes over all rows, block by block
 * (at most BLOCK rows, and about 32 KB so a block stays in L1 cache while its
 * columns are walked), accumulated in float64. `run(first, n)` writes a
 * block's float32 sums into slots 0..count-1.
 */
const blockSums = (s: Passes, rows: number, c: number, count: 1 | 2, run: (first: number, n: number) => void): Float64Array[] => {
  const totals = Array.from({ length: count }, () => new Float64Array(c));
  const per = Math.max(16, Math.min(BLOCK, Math.floor(32768 / (c * 4))));
  for (let first = 0; first < rows; first += per) {
    run(first, Math.min(per, rows - first));
    totals.forEach((t, i) => {
      const v = s.get(i);
      for (let j = 0; j < c; j++) t[j] += v[j];
    });
  }
  return totals;
};

/** Inputs x ([..., c]), gamma, beta; attrs eps. Outputs y, batch mean, batch (biased) variance. */
const forwardKernel = ({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): Info[] => {
  const { x, gamma, beta } = inputs as { x: Info; gamma: Info; beta: Info };
  const eps = (attrs as { eps: number }).eps;
  const c = x.shape[x.shape.length - 1], rows = x.shape.reduce((a, s) => a * s, 1) / c;
  const io = kernelIo(backend)!;
  const y = io.output(x.shape), meanOut = io.output([c]), varOut = io.output([c]);
  // Slots: 0 block sums, 1 mean, 2 scale, 3 shift.
  const s = simdPasses(backend, io, c, 4);
  const g = new Float64Array(io.read(gamma)), b = new Float64Array(io.read(beta));
  let sums: Float64Array, sqDevs: Float64Array;
  if (s) {
    const rb = c * 4;
    [sums] = blockSums(s, rows, c, 1, (first, n) => s.fns.sum(s.ptr(x) + first * rb, s.at(0), n, rb));
    s.put(1, perChannel(c, (j) => sums[j] / rows));
    [sqDevs] = blockSums(s, rows, c, 1, (first, n) => s.fns.sumSqDev(s.ptr(x) + first * rb, s.at(1), s.at(0), n, rb));
  } else {
    sums = jsSum(io.read(x), rows, c);
    sqDevs = jsSumSqDev(io.read(x), rows, c, perChannel(c, (j) => sums[j] / rows));
  }
  const mean = perChannel(c, (j) => sums[j] / rows), variance = perChannel(c, (j) => sqDevs[j] / rows);
  const scale = perChannel(c, (j) => g[j] / Math.sqrt(variance[j] + eps));
  const shift = perChannel(c, (j) => b[j] - mean[j] * scale[j]);
  if (s) {
    s.put(2, scale);
    s.put(3, shift);
    s.fns.affine(s.ptr(x), s.at(2), s.at(3), s.ptr(y), rows, c * 4);
  } else {
    jsAffine(io.read(x), rows, c, scale, shift, io.read(y));
  }
  io.read(meanOut).set(mean);
  io.read(varOut).set(variance);
  return [y, meanOut, varOut];
};

/** Inputs dy, x, gamma, mean, variance; attrs eps. Outputs dx, dgamma, dbeta. */
const backwardKernel = ({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): Info[] => {
  const { dy, x, gamma, mean, variance } = inputs as { dy: Info; x: Info; gamma: Info; mean: Info; variance: Info };
  const eps = (attrs as { eps: number }).eps;
  const c = x.shape[x.shape.length - 1], rows = x.shape.reduce((a, s) => a * s, 1) / c;
  const io = kernelIo(backend)!;
  const dx = io.output(x.shape), dg = io.output([c]), db = io.output([c]);
  // Slots: 0, 1 block sums, 2 mean, 3 a, 4 b, 5 k.
  const s = simdPasses(backend, io, c, 6);
  const g = new Float64Array(io.read(gamma)), m = new Float64Array(io.read(mean)), vr = io.read(variance);
  const inv = perChannel(c, (j) => 1 / Math.sqrt(vr[j] + eps));
  let sumDy: Float64Array, sumDyDev: Float64Array;
  if (s) {
    const rb = c * 4;
    s.put(2, m);
    [sumDy, sumDyDev] = blockSums(s, rows, c, 2, (first, n) => s.fns.sumGrad(s.ptr(dy) + first * rb, s.ptr(x) + first * rb, s.at(2), s.at(0), s.at(1), n, rb));
  } else {
    [sumDy, sumDyDev] = jsSumGrad(io.read(dy), io.read(x), rows, c, m);
  }
  // dβ = Σdy, dγ = Σdy·x̂; dx = k·(dy − dβ/n − x̂·dγ/n) with k = γ/σ, as dy·a + x·b + k0.
  const dBeta = sumDy, dGamma = perChannel(c, (j) => sumDyDev[j] * inv[j]);
  const a = perChannel(c, (j) => g[j] * inv[j]);
  const b = perChannel(c, (j) => -a[j] * inv[j] * dGamma[j] / rows);
  const k0 = perChannel(c, (j) => -a[j] * dBeta[j] / rows - b[j] * m[j]);
  if (s) {
    [a, b, k0].forEach((v, i) => s.put(3 + i, v));
    s.fns.affine2(s.ptr(dy), s.ptr(x), s.at(3), s.at(4), s.at(5), s.ptr(dx), rows, c * 4);
  } else {
    jsAffine2(io.read(dy), io.read(x), rows, c, a, b, k0, io.read(dx));
  }
  io.read(dg).set(dGamma);
  io.read(db).set(dBeta);
  return [dx, dg, db];
};

/**
 * Inputs mean, variance (the batch's, biased), runMean, runVar; attrs momentum, n (values per channel).
 * Outputs the new running mean and (unbiased) variance: one kernel instead of six small ops.
 */
const runningStatsKernel = ({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): Info[] => {
  const { mean, variance, runMean, runVar } = inputs as { mean: Info; variance: Info; runMean: Info; runVar: Info };
  const { momentum, n } = attrs as { momentum: number; n: number };
  const io = kernelIo(backend)!, c = mean.shape[0], unbias = n / (n - 1);
  const outMean = io.output([c]), outVar = io.output([c]);
  const m = io.read(mean), v = io.read(variance), rm = io.read(runMean), rv = io.read(runVar), om = io.read(outMean), ov = io.read(outVar);
  for (let j = 0; j < c; j++) {
    om[j] = rm[j] * (1 - momentum) + m[j] * momentum;
    ov[j] = rv[j] * (1 - momentum) + v[j] * momentum * unbias;
  }
  return [outMean, outVar];
};

const FORWARD = 'TsnnBatchNormTrain', BACKWARD = 'TsnnBatchNormGrad', RUNNING = 'TsnnBatchNormRunningStats';

/**
 * True where the active backend has the fused kernels (they are registered for wasm and cpu).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { hasBatchNormKernels, installBatchNormKernels } from 'tsnn/backend';
 *
 * await tf.ready(); // before the first op there is no active backend, and the answer is false
 * console.log(hasBatchNormKernels()); // false
 * installBatchNormKernels(); // installEngine does it
 * console.log(hasBatchNormKernels()); // true
 * ```
 */
export const hasBatchNormKernels = (): boolean => tf.getKernel(FORWARD, tf.getBackend()) !== undefined;

const run = <T>(kernel: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): T => tf.engine().runKernel(kernel, inputs, attrs) as unknown as T;

/**
 * The forward kernel: `[y, batch mean, batch biased variance]` over every position of `x`'s last axis.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batchNormTrainForward, installBatchNormKernels } from 'tsnn/backend';
 *
 * installBatchNormKernels();
 * const [y, mean, variance] = batchNormTrainForward(tf.tensor2d([[1], [3]]), tf.ones([1]), tf.zeros([1]), 1e-5);
 * console.log(Array.from(y.dataSync(), (v) => +v.toFixed(3)), mean.dataSync()[0], variance.dataSync()[0]); // [-1, 1] 2 1
 * ```
 */
export const batchNormTrainForward = (x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] =>
  run(FORWARD, { x, gamma, beta }, { eps });

/**
 * The backward kernel: `[dx, dgamma, dbeta]`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batchNormTrainBackward, batchNormTrainForward, installBatchNormKernels } from 'tsnn/backend';
 *
 * installBatchNormKernels();
 * const x = tf.tensor2d([[1], [3]]), gamma = tf.ones([1]) as tf.Tensor1D;
 * const [, mean, variance] = batchNormTrainForward(x, gamma, tf.zeros([1]), 1e-5);
 * const [dx, dGamma, dBeta] = batchNormTrainBackward(tf.onesLike(x), x, gamma, mean, variance, 1e-5);
 * // A constant dy moves nothing through the normalisation: dx is 0, dbeta the sum of dy.
 * console.log(Array.from(dx.dataSync(), (v) => Math.abs(v) < 1e-6), dGamma.dataSync()[0], dBeta.dataSync()[0]); // [true, true] 0 2
 * ```
 */
export const batchNormTrainBackward = (
  dy: tf.Tensor,
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  eps: number,
): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] => run(BACKWARD, { dy, x, gamma, mean, variance }, { eps });

/** The ops' normalisation through the kernels: one kernel each way. */
const kernelNormalisation: Normalisation = {
  forward(x, gamma, beta, eps) {
    const [y, mean, variance] = batchNormTrainForward(x, gamma, beta, eps);
    return { y, mean, variance, saved: [x, gamma, mean, variance] };
  },
  backward: (dy, [x, gamma, mean, variance], eps) => batchNormTrainBackward(dy, x, gamma as tf.Tensor1D, mean as tf.Tensor1D, variance as tf.Tensor1D, eps),
};

const kernelRunningStats: RunningStats = (mean, variance, runMean, runVar, momentum, n) => run(RUNNING, { mean, variance, runMean, runVar }, { momentum, n });

/**
 * Register the BatchNorm kernels on wasm and cpu and plug them into the
 * BatchNorm ops (float32 tensors on a backend that has them). Idempotent.
 *
 * @example
 * ```ts
 * import { installBatchNormKernels } from 'tsnn/backend';
 * installBatchNormKernels();
 * ```
 */
export const installBatchNormKernels = (): void => {
  const kernels: [string, tf.KernelFunc][] = [
    [FORWARD, forwardKernel as tf.KernelFunc],
    [BACKWARD, backwardKernel as tf.KernelFunc],
    [RUNNING, runningStatsKernel as tf.KernelFunc],
  ];
  for (const backendName of ['wasm', 'cpu']) {
    for (const [kernelName, kernelFunc] of kernels) {
      if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc });
    }
  }
  batchNormTrainSlot.install((x) => (x.dtype === 'float32' && hasBatchNormKernels() ? kernelNormalisation : undefined));
  batchNormStatsSlot.install((mean, runMean) =>
    mean.dtype === 'float32' && runMean.dtype === 'float32' && hasBatchNormKernels() ? kernelRunningStats : undefined
  );
};
