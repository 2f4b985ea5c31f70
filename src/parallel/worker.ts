/**
 * A gradient worker: rebuilds the model from its spec, then for each step
 * computes the loss and gradients of its shard of the batch.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { parentPort } from 'node:worker_threads';
import { markFinite } from '../backend/finite_marks.ts';
import { type BackendName, selectBackend } from '../backend/select.ts';
import type { AnyLayer } from '../layer.ts';
import type { Key } from '../random.ts';
import type { Loss } from '../train/losses.ts';
import { disposeTree, flattenTree } from '../tree.ts';
import { lossFromSpec } from './loss_spec.ts';
import { type FromWorker, packedSize, packTree, sharedFloats, type SharedInputs, tensorFromView, type ToWorker, unpackTree } from './protocol.ts';
import { shardGradient } from './shard.ts';

const port = parentPort!;
let model: AnyLayer | undefined;
let loss: Loss | undefined;
/** The caller's shared params and batch. */
let shared: SharedInputs | undefined;
/** Gradients go out through this shared buffer, reused every step (grown when needed). */
let gradBuffer: Float32Array | undefined;

const reply = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on('message', async (m: ToWorker) => {
  try {
    if (m.type === 'init') {
      // One XNNPACK thread each: the workers are the parallelism (threads inside workers would oversubscribe the cores).
      await selectBackend({ backend: m.backend as BackendName, warn: () => {}, threads: 1, relaxedSimd: m.relaxedSimd });
      const mod = await import(m.spec.module);
      const factory = mod[m.spec.export];
      if (typeof factory !== 'function') throw new Error(`worker: ${m.spec.module} has no export '${m.spec.export}'`);
      model = factory(...(m.spec.args ?? [])) as AnyLayer;
      loss = await lossFromSpec(m.lossSpec);
      reply({ type: 'ready' });
      return;
    }
    if (m.type === 'buffers') {
      shared = m;
      return;
    }
    if (!model || !loss || !shared) throw new Error('worker: step before init');
    const params = unpackTree({ layout: m.params, data: shared.params }), state = unpackTree(m.state);
    if (m.paramsFinite) flattenTree(params).forEach(([, t]) => markFinite(t));
    const [a, b] = m.rows, per = m.rowShape.reduce((u, v) => u * v, 1);
    const x = tensorFromView(shared.x.subarray(a * per, b * per), [b - a, ...m.rowShape]);
    const y = tf.tensor1d(shared.y.slice(a, b), 'int32');
    const vg = shardGradient(model, loss, params, state, x, y, m.key as Key, m.weight);
    const need = packedSize(vg.grads), fresh = !gradBuffer || gradBuffer.length < need;
    if (fresh) gradBuffer = sharedFloats(need);
    const grads = packTree(vg.grads, gradBuffer), state2 = packTree(vg.aux ?? {});
    const value = vg.value.dataSync()[0];
    [params, state, vg.grads, vg.aux ?? {}].forEach(disposeTree);
    [x, y, vg.value].forEach((t) => t.dispose());
    reply({ type: 'grads', loss: value, grads: grads.layout, gradBuffer: fresh ? gradBuffer : undefined, state: state2 }, [state2.data.buffer as ArrayBuffer]);
  } catch (e) {
    reply({ type: 'error', message: (e as Error).stack ?? String(e) });
  }
});
