/**
 * The all-finite check (`ops/finite.ts`) as one pass over the tensors'
 * memory, without a kernel launch per tensor: as tfjs ops, the check of the
 * chapter-14 two-ResBlocks train state (284 tensors) took about 4% of a
 * training step on wasm. On wasm each tensor is one SIMD loop of
 * `acc += x·0` (any NaN or infinity makes `acc` NaN); on cpu the same in JS.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { allFiniteSlot } from '../ops/finite.ts';
import { isMarkedFinite, markFinite } from './finite_marks.ts';
import { type KernelIo, kernelIo } from './kernel_io.ts';
import { assembleModule, forLoop, I32, instancePerMemory, op, V128 } from './wasm_asm.ts';

interface Probe {
  /** Stores Σ x·0 over `bytes` bytes at `x` (a multiple of 16), lane by lane, at `out`. */
  probe(x: number, bytes: number, out: number): void;
}

const X = 0, BYTES = 1, OUT = 2, I = 3, ACC = 4, ZERO = 5;
const probeFor = instancePerMemory<Probe>((memory) =>
  assembleModule([{
    name: 'probe',
    params: [I32, I32, I32],
    locals: [[1, I32], [2, V128]],
    body: [
      ...op.v128Zero,
      ...op.set(ACC),
      ...op.v128Zero,
      ...op.set(ZERO),
      ...forLoop(I, op.get(BYTES), op.i32Const(16), [
        ...op.get(ACC),
        ...op.get(X),
        ...op.get(I),
        ...op.i32Add,
        ...op.v128Load,
        ...op.get(ZERO),
        ...op.f32x4Mul,
        ...op.f32x4Add,
        ...op.set(ACC),
      ]),
      ...op.get(OUT),
      ...op.get(ACC),
      ...op.v128Store,
    ],
  }], memory)
);

/** Σ x·0 over a view, in JS: 0 when all are finite, NaN otherwise. */
const probeJs = (v: Float32Array, from: number): number => {
  let acc = 0;
  for (let i = from; i < v.length; i++) acc += v[i] * 0;
  return acc;
};

/** The backend holding a tensor's data (an engine-internal record), to check it is the active one. */
const holder = (t: tf.Tensor): unknown =>
  (tf.engine() as unknown as { state: { tensorInfo: WeakMap<object, { backend: unknown }> } }).state.tensorInfo.get(t.dataId)?.backend;

/**
 * Whether every value of a float32 tensor held by `backend` (wasm or cpu) is
 * finite: one SIMD pass on wasm, a loop on cpu, none for a tensor marked
 * finite (`finite_marks.ts`); a finite answer marks it. Kernels use it to
 * find the rare call whose result needs a second look.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { kernelIo } from 'tsnn/backend';
 *
 * const t = tf.tensor([1, NaN]);
 * console.log(tensorIsFinite(kernelIo(tf.backend())!, tf.backend(), t)); // false
 * ```
 */
export const tensorIsFinite = (io: KernelIo, backend: unknown, t: tf.TensorInfo): boolean => {
  if (isMarkedFinite(t)) return true;
  const size = t.shape.reduce((p, q) => p * q, 1);
  const simd = io.wasm && probeFor(backend);
  let from = 0;
  if (simd) {
    from = size - (size % 4);
    const out = io.wasm!.scratch(4);
    simd.probe(io.wasm!.ptr(t), from * 4, out);
    const lanes = io.wasm!.floats(out, 4);
    if (lanes[0] + lanes[1] + lanes[2] + lanes[3] !== 0) return false;
  }
  if (probeJs(io.read(t), from) !== 0) return false;
  markFinite(t);
  return true;
};

const check = (tensors: readonly tf.Tensor[]): boolean | undefined => {
  const backend = tf.backend();
  const io = kernelIo(backend);
  // Another backend, or data still held by the one before a switch: the op's math moves it.
  if (!io || tensors.some((t) => holder(t) !== backend)) return undefined;
  return tensors.every((t) => tensorIsFinite(io, backend, t));
};

/**
 * Plug the one-pass check into the op, for the wasm and cpu backends.
 *
 * @example
 * ```ts
 * import { installFiniteCheck } from 'tsnn/backend';
 * installFiniteCheck();
 * ```
 */
export const installFiniteCheck = (): void => allFiniteSlot.install(check);
