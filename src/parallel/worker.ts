/**
 * A gradient worker: rebuilds the model from its spec, then for each step
 * computes the loss and gradients of its shard of the batch.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { parentPort } from 'node:worker_threads';
import { valueAndGrad } from '../autodiff.ts';
import { selectBackend, type BackendName } from '../backend/select.ts';
import type { AnyLayer } from '../layer.ts';
import type { Key } from '../random.ts';
import { crossEntropyWith, type Loss } from '../train/losses.ts';
import { disposeTree, type Tree } from '../tree.ts';
import { type FromWorker, packedSize, packTree, sharedFloats, type ToWorker, unpackTree } from './protocol.ts';

const port = parentPort!;
let model: AnyLayer | undefined;
let loss: Loss | undefined;
/** Gradients go out through this shared buffer, reused every step (grown when needed). */
let gradBuffer: Float32Array | undefined;


const reply = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on('message', async (m: ToWorker) => {
  try {
    if (m.type === 'init') {
      await selectBackend({ backend: m.backend as BackendName, warn: () => {} });
      const mod = await import(m.spec.module);
      const factory = mod[m.spec.export];
      if (typeof factory !== 'function') throw new Error(`worker: ${m.spec.module} has no export '${m.spec.export}'`);
      model = factory(...m.spec.args) as AnyLayer;
      loss = crossEntropyWith({ labelSmoothing: m.labelSmoothing });
      reply({ type: 'ready' });
      return;
    }
    if (!model || !loss) throw new Error('worker: step before init');
    const params = unpackTree(m.params), state = unpackTree(m.state);
    const x = tf.tensor(m.x, [...m.xShape], 'float32'), y = tf.tensor1d(m.y, 'int32');
    const vg = valueAndGrad((p: Tree) => {
      const r = model!.apply(p, state, x, { training: true, key: m.key as Key });
      return { loss: tf.mul(loss!(r.y, y), m.weight) as tf.Scalar, aux: r.state as Tree };
    })(params);
    const need = packedSize(vg.grads);
    if (!gradBuffer || gradBuffer.length < need) gradBuffer = sharedFloats(need);
    const out = { loss: vg.value.dataSync()[0], grads: packTree(vg.grads, gradBuffer), state: packTree(vg.aux ?? {}) };
    [params, state, vg.grads, vg.aux ?? {}].forEach(disposeTree);
    [x, y, vg.value].forEach((t) => t.dispose());
    reply({ type: 'grads', ...out }, [out.state.data.buffer as ArrayBuffer]);
  } catch (e) {
    reply({ type: 'error', message: (e as Error).stack ?? String(e) });
  }
});
