/**
 * Training-mode BatchNorm as two kernels, forward and backward, on the wasm
 * and cpu backends (tfjs's public `registerKernel`). As tfjs ops, a BatchNorm
 * is about 25 small kernels per training step, and at the chapter-14 sizes
 * their fixed cost outweighs the arithmetic; here each direction is one
 * kernel: per-channel sums, then one fused elementwise pass. On wasm the
 * passes are SIMD functions assembled at load time (channels in groups of
 * four); other channel counts, and the cpu backend, run the same arithmetic
 * in JS. Sums are taken in blocks of rows and accumulated in float64.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { type KernelIo, kernelIo } from '../backend/kernel_io.ts';
import { assembleModule, I32, instancePerMemory, op, V128, type WasmFunction } from '../backend/wasm_asm.ts';

/** Rows summed per block before the float64 accumulation. */
const BLOCK = 256;

// ---------------------------------------------------------------------------
// The arithmetic, on plain arrays (cpu, and wasm without SIMD)
// ---------------------------------------------------------------------------

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

/**
 * Two nested loops, rows then four-channel groups; `inner` emits the body with
 * `at(p)` giving the address `p + row + j`. Params 0..k-1 are pointers, then
 * rows, rowBytes; locals: end, row, j, then `v128s` v128 scratch.
 */
const rowsLoop = (name: string, pointers: number, v128s: number, inner: (at: (p: number) => number[], col: (p: number) => number[], tmp: (i: number) => number) => number[]): WasmFunction => {
  const ROWS = pointers, RB = pointers + 1, END = pointers + 2, ROW = pointers + 3, J = pointers + 4;
  const at = (p: number) => [...op.get(p), ...op.get(ROW), ...op.i32Add, ...op.get(J), ...op.i32Add];
  const col = (p: number) => [...op.get(p), ...op.get(J), ...op.i32Add];
  const tmp = (i: number) => J + 1 + i;
  return {
    name,
    params: Array(pointers + 2).fill(I32),
    locals: [[3, I32], [v128s, V128]],
    body: [
      ...op.get(ROWS), ...op.get(RB), ...op.i32Mul, ...op.set(END),
      ...op.block, ...op.loop,
      ...op.get(ROW), ...op.get(END), ...op.i32GeU, ...op.brIf(1),
      ...op.i32Const(0), ...op.set(J),
      ...op.block, ...op.loop,
      ...op.get(J), ...op.get(RB), ...op.i32GeU, ...op.brIf(1),
      ...inner(at, col, tmp),
      ...op.get(J), ...op.i32Const(16), ...op.i32Add, ...op.set(J),
      ...op.br(0), ...op.end, ...op.end,
      ...op.get(ROW), ...op.get(RB), ...op.i32Add, ...op.set(ROW),
      ...op.br(0), ...op.end, ...op.end,
    ],
  };
};

const ld = op.v128Load, st = op.v128Store, add = op.f32x4Add, sub = op.f32x4Sub, mul = op.f32x4Mul;

const kernels = (): Uint8Array => assembleModule([
  // sum(x, out; rows, rowBytes): out[j] += x[row + j]
  rowsLoop('sum', 2, 0, (at, col) => [...col(1), ...col(1), ...ld, ...at(0), ...ld, ...add, ...st]),
  // sumSqDev(x, mean, out): out[j] += (x − mean)²
  rowsLoop('sumSqDev', 3, 1, (at, col, tmp) => [
    ...at(0), ...ld, ...col(1), ...ld, ...sub, ...op.set(tmp(0)),
    ...col(2), ...col(2), ...ld, ...op.get(tmp(0)), ...op.get(tmp(0)), ...mul, ...add, ...st,
  ]),
  // sumGrad(dy, x, mean, s1, s2): s1[j] += dy; s2[j] += dy·(x − mean)
  rowsLoop('sumGrad', 5, 1, (at, col, tmp) => [
    ...at(0), ...ld, ...op.set(tmp(0)),
    ...col(3), ...col(3), ...ld, ...op.get(tmp(0)), ...add, ...st,
    ...col(4), ...col(4), ...ld, ...op.get(tmp(0)), ...at(1), ...ld, ...col(2), ...ld, ...sub, ...mul, ...add, ...st,
  ]),
  // affine(x, a, b, out): out = x·a + b
  rowsLoop('affine', 4, 0, (at, col) => [...at(3), ...at(0), ...ld, ...col(1), ...ld, ...mul, ...col(2), ...ld, ...add, ...st]),
  // affine2(dy, x, a, b, k, out): out = dy·a + x·b + k
  rowsLoop('affine2', 6, 0, (at, col) => [
    ...at(5), ...at(0), ...ld, ...col(2), ...ld, ...mul, ...at(1), ...ld, ...col(3), ...ld, ...mul, ...add, ...col(4), ...ld, ...add, ...st,
  ]),
]);

type Simd = Record<'sum' | 'sumSqDev' | 'sumGrad' | 'affine' | 'affine2', (...args: number[]) => void>;
const simdFor = instancePerMemory<Simd>(kernels);

// ---------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------

type Info = tf.TensorInfo;

/** The kernels' I/O, with the SIMD passes and scratch vectors when the channel count allows them. */
interface Io extends KernelIo {
  readonly simd?: { fns: Simd; ptr(t: Info): number; vector(v: ArrayLike<number>): Info; zeros(): Info; drop(t: Info): void };
}

const ioFor = (backend: unknown, c: number): Io => {
  const io = kernelIo(backend)!;
  const fns = io.wasm && c % 4 === 0 ? simdFor(backend) : null;
  if (!io.wasm || !fns) return io;
  const vector = (v: ArrayLike<number>) => {
    const t = io.output([c]);
    io.read(t).set(v);
    return t;
  };
  return { ...io, simd: { fns, ptr: io.wasm.ptr, vector, zeros: () => vector(new Float32Array(c)), drop: io.wasm.dispose } };
};

/** Per-channel sums of one or two accumulators over all rows, block by block, accumulated in float64. */
const blockSums = (io: Io, rows: number, c: number, count: 1 | 2, run: (first: number, n: number, acc: Info[]) => void): Float64Array[] => {
  const s = io.simd!;
  const totals = Array.from({ length: count }, () => new Float64Array(c));
  const acc = totals.map(() => s.zeros());
  for (let first = 0; first < rows; first += BLOCK) {
    acc.forEach((a) => io.read(a).fill(0));
    run(first, Math.min(BLOCK, rows - first), acc);
    acc.forEach((a, i) => {
      const v = io.read(a);
      for (let j = 0; j < c; j++) totals[i][j] += v[j];
    });
  }
  acc.forEach(s.drop);
  return totals;
};

/** Inputs x ([..., c]), gamma, beta; attrs eps. Outputs y, batch mean, batch (biased) variance. */
const forwardKernel = ({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): Info[] => {
  const { x, gamma, beta } = inputs as { x: Info; gamma: Info; beta: Info };
  const eps = (attrs as { eps: number }).eps;
  const c = x.shape[x.shape.length - 1], rows = x.shape.reduce((a, s) => a * s, 1) / c;
  const io = ioFor(backend, c);
  const g = Float64Array.from(io.read(gamma)), b = Float64Array.from(io.read(beta));
  let mean: Float64Array, variance: Float64Array;
  if (io.simd) {
    const s = io.simd, rb = c * 4;
    [mean] = blockSums(io, rows, c, 1, (first, n, [acc]) => s.fns.sum(s.ptr(x) + first * rb, s.ptr(acc), n, rb));
    mean = mean.map((v) => v / rows);
    const m = s.vector(mean);
    [variance] = blockSums(io, rows, c, 1, (first, n, [acc]) => s.fns.sumSqDev(s.ptr(x) + first * rb, s.ptr(m), s.ptr(acc), n, rb));
    s.drop(m);
  } else {
    mean = jsSum(io.read(x), rows, c).map((v) => v / rows);
    variance = jsSumSqDev(io.read(x), rows, c, mean);
  }
  variance = variance.map((v) => v / rows);
  const scale = g.map((gj, j) => gj / Math.sqrt(variance[j] + eps));
  const shift = b.map((bj, j) => bj - mean[j] * scale[j]);
  const y = io.output(x.shape), meanOut = io.output([c]), varOut = io.output([c]);
  if (io.simd) {
    const s = io.simd, a = s.vector(scale), k = s.vector(shift);
    s.fns.affine(s.ptr(x), s.ptr(a), s.ptr(k), s.ptr(y), rows, c * 4);
    [a, k].forEach(s.drop);
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
  const io = ioFor(backend, c);
  const g = Float64Array.from(io.read(gamma)), m = Float64Array.from(io.read(mean));
  const inv = Float64Array.from(io.read(variance), (v) => 1 / Math.sqrt(v + eps));
  let sumDy: Float64Array, sumDyDev: Float64Array;
  if (io.simd) {
    const s = io.simd, rb = c * 4, mv = s.vector(m);
    [sumDy, sumDyDev] = blockSums(io, rows, c, 2, (first, n, [a1, a2]) =>
      s.fns.sumGrad(s.ptr(dy) + first * rb, s.ptr(x) + first * rb, s.ptr(mv), s.ptr(a1), s.ptr(a2), n, rb));
    s.drop(mv);
  } else {
    [sumDy, sumDyDev] = jsSumGrad(io.read(dy), io.read(x), rows, c, m);
  }
  // dβ = Σdy, dγ = Σdy·x̂; dx = k·(dy − dβ/n − x̂·dγ/n) with k = γ/σ, as dy·a + x·b + k0.
  const dBeta = sumDy, dGamma = sumDyDev.map((v, j) => v * inv[j]);
  const a = g.map((gj, j) => gj * inv[j]);
  const b = a.map((aj, j) => -aj * inv[j] * dGamma[j] / rows);
  const k0 = a.map((aj, j) => -aj * dBeta[j] / rows - b[j] * m[j]);
  const dx = io.output(x.shape), dg = io.output([c]), db = io.output([c]);
  if (io.simd) {
    const s = io.simd, av = s.vector(a), bv = s.vector(b), kv = s.vector(k0);
    s.fns.affine2(s.ptr(dy), s.ptr(x), s.ptr(av), s.ptr(bv), s.ptr(kv), s.ptr(dx), rows, c * 4);
    [av, bv, kv].forEach(s.drop);
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
for (const backendName of ['wasm', 'cpu']) {
  if (!tf.getKernel(FORWARD, backendName)) tf.registerKernel({ kernelName: FORWARD, backendName, kernelFunc: forwardKernel as tf.KernelFunc });
  if (!tf.getKernel(BACKWARD, backendName)) tf.registerKernel({ kernelName: BACKWARD, backendName, kernelFunc: backwardKernel as tf.KernelFunc });
  if (!tf.getKernel(RUNNING, backendName)) tf.registerKernel({ kernelName: RUNNING, backendName, kernelFunc: runningStatsKernel as tf.KernelFunc });
}

/**
 * Whether the fused BatchNorm kernels run on the active backend (wasm, cpu).
 *
 * @example
 * if (hasBatchNormKernels()) batchNormTrainForward(x, gamma, beta, 1e-5);
 */
export const hasBatchNormKernels = (): boolean => tf.getKernel(FORWARD, tf.getBackend()) !== undefined;

/**
 * Training-mode forward: `[y, batch mean, batch biased variance]` over every position of `x`'s last axis.
 *
 * @example
 * const [y, mean, variance] = batchNormTrainForward(x, gamma, beta, 1e-5);
 */
export const batchNormTrainForward = (x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] =>
  tf.engine().runKernel(FORWARD, { x, gamma, beta }, { eps }) as unknown as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];

/**
 * Training-mode backward: `[dx, dgamma, dbeta]`.
 *
 * @example
 * const [dx, dGamma, dBeta] = batchNormTrainBackward(dy, x, gamma, mean, variance, 1e-5);
 */
export const batchNormTrainBackward = (
  dy: tf.Tensor, x: tf.Tensor, gamma: tf.Tensor1D, mean: tf.Tensor1D, variance: tf.Tensor1D, eps: number,
): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] =>
  tf.engine().runKernel(BACKWARD, { dy, x, gamma, mean, variance }, { eps }) as unknown as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];

/**
 * The running statistics after one training batch (PyTorch's convention):
 * `(1 − momentum)·old + momentum·batch`, with the batch variance made
 * unbiased by `n / (n − 1)`. `[newMean, newVar]`.
 *
 * @example
 * const [mean, variance] = batchNormRunningStats(batchMean, batchVar, state.mean, state.var, 0.1, 64 * 14 * 14);
 */
export const batchNormRunningStats = (
  mean: tf.Tensor1D, variance: tf.Tensor1D, runMean: tf.Tensor1D, runVar: tf.Tensor1D, momentum: number, n: number,
): [tf.Tensor1D, tf.Tensor1D] =>
  tf.engine().runKernel(RUNNING, { mean, variance, runMean, runVar }, { momentum, n }) as unknown as [tf.Tensor1D, tf.Tensor1D];
