/**
 * Data-parallel training on several threads: each step splits the batch into
 * shards, the calling thread and `workers - 1` worker threads compute the
 * gradients of their shards (each shard's loss weighted by its share of the
 * batch), and the calling thread sums them and applies the optimizer. Params
 * and the batch go out, and gradients come back, through SharedArrayBuffers
 * shared once; each step's messages carry only layouts. tfjs's threaded wasm build is off under Node, so this is how a second
 * core is used. Results are deterministic for a given key and worker count;
 * BatchNorm sees per-shard statistics (like PyTorch DDP without SyncBatchNorm)
 * and its running statistics are averaged.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { Worker } from 'node:worker_threads';
import { isMarkedFinite } from '../backend/finite_marks.ts';
import { relaxedSimdInUse } from '../backend/wasm_asm.ts';
import type { Batch } from '../data/loader.ts';
import type { AnyLayer } from '../layer.ts';
import type { AnyTransformation } from '../optim/base.ts';
import { stepParams } from '../optim/chain.ts';
import { foldIn } from '../random.ts';
import * as t from 'io-ts';
import {
  optionSet,
  type OptionSetOf,
  type OptionsOf,
  type PositiveInt,
  positiveIntUpTo,
  type SameType,
  strictRecord,
  type StrictRecordC,
  typesAgree,
} from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { StepFactory } from '../train/fit.ts';
import { crossEntropy, type Loss } from '../train/losses.ts';
import { lossSpecOf } from './loss_spec.ts';
import { siblingModule } from './sibling.ts';
import type { StepResult, TrainState } from '../train/step.ts';
import { disposeTree, flattenTree, type Tree, unflattenTree } from '../tree.ts';
import {
  type FromWorker,
  type ModelSpec,
  type ModuleSpec,
  type Packed,
  packedLeaves,
  packedSize,
  packTree,
  sharedFloats,
  type SharedInputs,
  tensorFromView,
  type ToWorker,
  unpackTree,
} from './protocol.ts';
import { shardGradient } from './shard.ts';

const Spec: StrictRecordC<{ module: t.StringC; export: t.StringC }, { args: t.ReadonlyArrayC<t.UnknownC> }> = strictRecord(
  'a module spec { module, export, args? }',
  { module: t.string, export: t.string },
  { args: t.readonlyArray(t.unknown) },
);

const Workers: t.RefinementC<typeof PositiveInt> = positiveIntUpTo(64);

/** Options of {@link parallelTrainStep} and {@link dataParallel}. */
export interface ParallelOptions {
  /** Threads in all, the calling one included (at most 64). */
  readonly workers: number;
  /** How the workers rebuild the model (the same model the caller passes). */
  readonly spec: ModelSpec;
  /**
   * How the workers rebuild the loss. Not needed for the library's own
   * `crossEntropy` and `mse`; any other loss needs one.
   */
  readonly lossSpec?: ModuleSpec;
}

const parallelRequired = { workers: Workers, spec: Spec };
const parallelOptional = { lossSpec: Spec };
const ParallelOptionSet: OptionSetOf<typeof parallelRequired, typeof parallelOptional> = optionSet('dataParallel', parallelRequired, parallelOptional);
typesAgree<SameType<ParallelOptions, OptionsOf<typeof ParallelOptionSet>>>();

/** A data-parallel step and the means to stop its workers. */
export interface ParallelStep {
  (ts: TrainState, batch: Batch): Promise<StepResult>;
  /** Terminate the worker threads. */
  close(): Promise<void>;
}

class GradWorker {
  private readonly worker: Worker;
  private pending: ((m: FromWorker) => void) | undefined;
  private failure: Error | undefined;
  /** The worker's shared gradient buffer, once it has sent it. */
  gradBuffer: Float32Array | undefined;

  constructor() {
    // The built package's worker is JavaScript, and Deno runs the .ts source natively; Node
    // running the source registers tsx's loader in the worker first (tsx is a devDependency).
    const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
    const url = siblingModule('./worker.ts', import.meta.url);
    this.worker = isDeno || url.pathname.endsWith('.js') ? new Worker(url) : new Worker(
      `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => m.register()).then(() => import(${JSON.stringify(url.href)}))`,
      { eval: true },
    );
    this.worker.on('message', (m: FromWorker) => {
      const p = this.pending;
      this.pending = undefined;
      p?.(m);
    });
    this.worker.on('error', (e) => {
      this.failure = e;
      this.pending?.({ type: 'error', message: e.stack ?? String(e) });
    });
  }

  /** Post a message that gets no reply. */
  send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  call(m: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = (r) => (r.type === 'error' ? reject(new Error(`gradient worker failed: ${r.message}`)) : resolve(r));
      this.worker.postMessage(m, transfer);
    });
  }

  terminate = () => this.worker.terminate();
}

/**
 * Running statistics are each shard's update of the same old value: their
 * weighted mean. They are small vectors, so they are averaged in JS on the
 * packed values, and come back as one new tensor per leaf.
 */
const meanState = (mine: Tree, theirs: readonly Packed[], weight: (shard: number) => number): Tree => {
  const own = packTree(mine);
  for (const p of theirs) {
    if (p.layout.length !== own.layout.length || p.layout.some(([path], i) => path !== own.layout[i][0])) {
      throw new Error(
        `parallelTrainStep: a worker's state has leaves [${p.layout.map(([q]) => q).join(', ')}], expected [${own.layout.map(([q]) => q).join(', ')}]`,
      );
    }
  }
  const data = own.data.map((v, i) => theirs.reduce((acc, p, s) => acc + p.data[i] * weight(s + 1), v * weight(0)));
  return unpackTree({ layout: own.layout, data });
};

/**
 * A training step that spreads each batch over `workers` threads.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adamW, dense, disposeReplacedTrainState, disposeTrainState, initTrainState, prngKey } from 'tsnn';
 * import { parallelTrainStep } from 'tsnn/node';
 *
 * // The workers rebuild the model from its spec: the same factory and arguments.
 * const spec = { module: import.meta.resolve('tsnn'), export: 'dense', args: [{ nf: 2 }] };
 * const model = dense({ nf: 2 }), opt = adamW(1e-3);
 * const ts = initTrainState(model, opt, prngKey(0), [3]);
 * const step = await parallelTrainStep(model, opt, { workers: 2, spec });
 * const x = tf.zeros([4, 3]), y = tf.tensor1d([0, 1, 0, 1], 'int32');
 * const { trainState, loss } = await step(ts, { x, y });
 * await step.close();
 * console.log(trainState.step, Number.isFinite(loss)); // 1 true
 * disposeReplacedTrainState(ts, trainState);
 * disposeTrainState(trainState);
 * tf.dispose([x, y]);
 * ```
 */
export const parallelTrainStep = async (
  model: AnyLayer,
  opt: AnyTransformation,
  options: ParallelOptions & { readonly loss?: Loss },
): Promise<ParallelStep> => {
  const { loss: given, ...rest } = options;
  const o = ParallelOptionSet.decode(rest);
  const loss = given ?? crossEntropy;
  const lossSpec = lossSpecOf(loss, o.lossSpec);
  const backend = tf.getBackend();
  if (backend === 'webgpu') {
    throw new ConfigError([`dataParallel: its shards run on CPU threads, and the backend is webgpu; on a GPU, use fit's own step (leave out the step option)`]);
  }
  const pool = Array.from({ length: o.workers - 1 }, () => new GradWorker());
  try {
    // The workers' kernels use relaxed SIMD exactly when the caller's do, so they round alike.
    await Promise.all(pool.map((w) => w.call({ type: 'init', spec: o.spec, lossSpec, backend, relaxedSimd: relaxedSimdInUse() })));
  } catch (e) {
    await Promise.all(pool.map((w) => w.terminate()));
    throw e;
  }
  let shared: SharedInputs | undefined;
  const step = async (ts: TrainState, batch: Batch): Promise<StepResult> => {
    const n = batch.x.shape[0];
    const shards = Math.min(o.workers, n);
    const sizes = Array.from({ length: shards }, (_, i) => Math.floor(n / shards) + (i < n % shards ? 1 : 0));
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const stepKey = foldIn(ts.key, ts.step);
    const weight = (i: number) => sizes[i] / n;
    let remote: Promise<FromWorker>[] = [];
    if (shards > 1) {
      // Params and the batch go out through buffers shared once (again only when outgrown); the small
      // state tree is transferred, a copy per worker.
      const need = packedSize(ts.params);
      if (!shared || shared.params.length < need || shared.x.length < batch.x.size || shared.y.length < n) {
        shared = { params: sharedFloats(need), x: sharedFloats(batch.x.size), y: new Int32Array(new SharedArrayBuffer(n * 4)) };
        for (const w of pool) w.send({ type: 'buffers', ...shared });
      }
      const layout = packTree(ts.params, shared.params).layout, state = packTree(ts.state);
      const paramsFinite = flattenTree(ts.params).every(([, t]) => isMarkedFinite(t));
      shared.x.set(batch.x.dataSync() as Float32Array);
      shared.y.set(batch.y.dataSync() as Int32Array);
      // Start the workers first, so they run while this thread computes shard 0.
      remote = pool.slice(0, shards - 1).map((w, i) => {
        const s = i + 1;
        const own = i === shards - 2 ? state : { layout: state.layout, data: state.data.slice() };
        return w.call({
          type: 'step',
          params: layout,
          paramsFinite,
          state: own,
          rows: [starts[s], starts[s] + sizes[s]],
          rowShape: batch.x.shape.slice(1),
          key: foldIn(stepKey, s) as unknown as [number, number],
          weight: weight(s),
        }, [own.data.buffer as ArrayBuffer]);
      });
    }
    const local = tf.tidy(() => {
      const x0 = shards > 1 ? tf.slice(batch.x, 0, sizes[0]) : batch.x;
      const y0 = shards > 1 ? tf.slice(batch.y, 0, sizes[0]) : batch.y;
      const vg = shardGradient(model, loss, ts.params, ts.state, x0, y0, shards > 1 ? foldIn(stepKey, 0) : stepKey, weight(0));
      return { value: vg.value, grads: vg.grads as tf.Tensor, state: (vg.aux ?? {}) as tf.Tensor };
    }) as unknown as { value: tf.Scalar; grads: Tree; state: Tree };
    const replies = (await Promise.all(remote)) as Extract<FromWorker, { type: 'grads' }>[];
    const theirGrads = replies.map((r, i): Packed => {
      if (r.gradBuffer) pool[i].gradBuffer = r.gradBuffer;
      return { layout: r.grads, data: pool[i].gradBuffer! };
    });
    const out = tf.tidy(() => {
      // Each shard's loss was scaled by its weight, so the batch gradient is a plain sum.
      const sum = (mine: Tree, theirs: Packed[]): Tree => {
        const maps = theirs.map((p) => new Map(packedLeaves(p).map(([path, shape, v]) => [path, [shape, v] as const])));
        return unflattenTree(
          flattenTree(mine).map(([path, t]) =>
            [
              path,
              maps.reduce((acc, m) => {
                const [shape, v] = m.get(path)!;
                return tf.add(acc, tensorFromView(v, shape));
              }, t),
            ] as const
          ),
        ) as Tree;
      };
      const grads = sum(local.grads, theirGrads);
      const state = meanState(local.state, replies.map((r) => r.state), weight);
      const lossValue = replies.reduce((acc, r) => acc + r.loss, local.value.dataSync()[0]);
      const { params, state: optState } = stepParams(opt, grads, ts.optState, ts.params);
      return { params: params as tf.Tensor, state: state as tf.Tensor, optState: optState as tf.Tensor, loss: tf.scalar(lossValue) };
    }) as unknown as { params: Tree; state: Tree; optState: Tree; loss: tf.Scalar };
    disposeTree(local.grads);
    disposeTree(local.state);
    local.value.dispose();
    const value = out.loss.dataSync()[0];
    out.loss.dispose();
    return { trainState: { params: out.params, state: out.state, optState: out.optState, step: ts.step + 1, key: ts.key }, loss: value };
  };
  return Object.assign(step, { close: async () => void (await Promise.all(pool.map((w) => w.terminate()))) });
};

/**
 * `fit`'s step spread over `workers` threads, for any loss (see
 * {@link ParallelOptions.lossSpec}); `fit` starts the workers and stops them when done.
 *
 * @example
 * ```ts
 * import { adamW, dataLoader, dense, disposeTrainState, fit } from 'tsnn';
 * import { dataParallel } from 'tsnn/node';
 *
 * // The workers rebuild the model from its spec: the same factory and arguments.
 * const spec = { module: import.meta.resolve('tsnn'), export: 'dense', args: [{ nf: 2 }] };
 * const ds = { x: new Float32Array(16 * 4), y: Int32Array.from({ length: 16 }, (_, i) => i % 2), shape: [4] };
 * const step = dataParallel({ workers: 2, spec });
 * const { trainState } = await fit(dense({ nf: 2 }), { train: dataLoader(ds, { batchSize: 8 }) }, { epochs: 1, opt: adamW(1e-3), step, observers: [] });
 * console.log(trainState.step); // 2
 * disposeTrainState(trainState);
 * ```
 */
export const dataParallel = (options: ParallelOptions): StepFactory => {
  const o = ParallelOptionSet.decode(options);
  return ({ model, loss, opt }) => parallelTrainStep(model, opt, { ...o, loss });
};
