/**
 * Tensors saved for the backward pass share their buffers without a kernel
 * (on wasm and cpu): the engine code this relies on is still tfjs's, no
 * `Identity` runs for them, gradients are the same bits as with tfjs's own
 * clones, second-order gradients still flow through saved tensors, and
 * nothing is left behind.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from './helpers.ts';
import { crossEntropy, disposeTree, flattenTree, prngKey, selectBackend, type Tree, valueAndGrad } from '../mod.ts';
import { installSavedTensorSharing } from '../src/backend/saved_tensors.ts';
import { on } from './fixtures/gradient_twins.ts';
import { toyDataset, toyModel } from './fixtures/toy.ts';

type EngineLike = { clone(x: tf.Tensor): tf.Tensor; saveTensorsForBackwardMode(t: tf.Tensor[]): tf.Tensor[]; runKernelFunc(p: unknown): unknown };

/** Run `f` with tfjs's own clone in place of the shared one. */
const withStockClone = <T>(f: () => T): T => {
  const engine = tf.engine() as unknown as EngineLike;
  const shared = engine.clone;
  delete (engine as Partial<EngineLike>).clone; // the prototype's method: tfjs's own
  try {
    return f();
  } finally {
    engine.clone = shared;
  }
};

/** One step's gradients of the toy conv net, and the ops the step ran by name. */
const toyGradients = async () => {
  const model = toyModel();
  const { params, state } = model.init(prngKey(1), [8, 8, 1]);
  const data = toyDataset(8);
  const x = tf.tidy(() => tf.div(tf.tensor(Float32Array.from(data.x), [8, 8, 8, 1]), 255)), y = tf.tensor1d(data.y, 'int32');
  const before = tf.memory().numTensors;
  const profile = await tf.profile(() => {
    const r = valueAndGrad((p: Tree) => ({ loss: crossEntropy(model.apply(p as never, state, x, { training: true }).y as tf.Tensor, y) }))(params);
    const grads = flattenTree(r.grads).map(([path, t]) => [path, Array.from(t.dataSync())] as const);
    disposeTree(r.grads);
    r.value.dispose();
    (globalThis as { __grads?: unknown }).__grads = grads;
  });
  const after = tf.memory().numTensors;
  const grads = (globalThis as { __grads?: unknown }).__grads as (readonly [string, number[]])[];
  [params, state, x, y].forEach((t) => disposeTree(t as Tree));
  return { grads, identities: profile.kernels.filter((k) => k.name === 'Identity').length, leaked: after - before };
};

describe('saved tensors without clones', () => {
  test("tfjs's engine still saves through engine.clone, which runs Identity and records a tape node", () => {
    const engine = tf.engine() as unknown as EngineLike;
    const proto = Object.getPrototypeOf(engine) as EngineLike;
    // The Node bundle is compiled to ES5 (`_this`), the ESM one is not.
    assert.match(proto.saveTensorsForBackwardMode.toString(), /(_this|this)\.keep\((_this|this)\.clone\(tensor\)\)/, 'the kernel path saves by clone');
    assert.match(proto.runKernelFunc.toString(), /saved = tensors\.map\([^;]*(_this|this)\.keep\((_this|this)\.clone\(tensor\)\)/, 'customGrad saves by clone');
    assert.match(proto.clone.toString(), /runKernel\(Identity[\s\S]*addTapeNode/, 'the stock clone is a kernel and a tape node');
  });
  for (const backend of ['cpu', 'wasm']) {
    test(`on ${backend}: no Identity runs for saved tensors, the gradients are the same bits, and nothing leaks`, async () => {
      await selectBackend({ backend: 'wasm', warn: () => {} });
      installSavedTensorSharing();
      const shared = await on(backend, toyGradients);
      const stock = await on(backend, () => withStockClone(toyGradients));
      assert.ok(stock.identities > 10, `tfjs's clones ran ${stock.identities} Identity kernels`);
      assert.ok(shared.identities < stock.identities / 4, `${shared.identities} Identity kernels still ran (tfjs's clones: ${stock.identities})`);
      assert.deepEqual(shared.grads, stock.grads);
      assert.equal(shared.leaked, 0, 'every saved tensor is disposed with the tape');
      assert.equal(stock.leaked, 0);
    });
  }
  test('a gradient of a gradient still differentiates through what the inner pass saved', async () => {
    installSavedTensorSharing();
    await on('cpu', () => {
      const x = tf.tensor([0.5, -1, 2]);
      const before = tf.memory().numTensors;
      // d²/dx² Σ x³ = 6x: the inner gradient 3x² reads the x that pow saved.
      const second = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(tf.pow(u, 3)))(t)))(x).arraySync());
      assert.deepEqual(second, [3, -6, 12]);
      assert.equal(tf.memory().numTensors, before);
      x.dispose();
    });
  });
});
