/**
 * The library's gradient rewrites on tfjs's WebGPU backend, against the cpu
 * backend. Deno has WebGPU built in; CI gives it a CPU Vulkan driver
 * (Debian's mesa-vulkan-drivers, lavapipe), which is slow but exact enough
 * for correctness. Where there is no WebGPU (Node), or no adapter, the test
 * says so and is skipped; with NN_REQUIRE_WEBGPU=1 (set by .ci/run) a Deno run
 * without an adapter fails instead.
 */
import { tf } from './helpers.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installEngine } from '../src/backend/install.ts';

type Gpu = { requestAdapter(): Promise<{ info?: { description?: string } } | null> };
const gpu = (globalThis.navigator as { gpu?: Gpu } | undefined)?.gpu;
const adapter = gpu ? await gpu.requestAdapter() : null;
const why = !gpu ? 'this runtime has no WebGPU (navigator.gpu); the Deno run covers it' : adapter === null ? 'WebGPU found no adapter' : undefined;
const required = gpu !== undefined && (globalThis as { Deno?: { env: { get(k: string): string | undefined } } }).Deno?.env.get('NN_REQUIRE_WEBGPU') === '1';

const relError = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) num += (a[i]! - b[i]!) ** 2, den += b[i]! ** 2;
  return Math.sqrt(num / den);
};

test("conv2d, maxPool and avgPool gradients on WebGPU equal the cpu backend's (strides 1, 2 and [2, 3])", async (t) => {
  if (why !== undefined) {
    if (required) assert.fail(`NN_REQUIRE_WEBGPU=1, but ${why}`);
    t.skip(why);
    return;
  }
  await import('@tensorflow/tfjs-backend-webgpu');
  const before = tf.getBackend();
  const x = tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 1) as tf.Tensor4D, w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
  const [xs, ws] = [await x.data(), await w.data()];
  const cases: [string, (v: tf.Tensor4D, f: tf.Tensor4D) => tf.Tensor][] = [
    ['conv stride 1 same', (v, f) => tf.conv2d(v, f, 1, 'same')],
    ['conv stride 2 same', (v, f) => tf.conv2d(v, f, 2, 'same')],
    ['conv stride [2, 3] valid', (v, f) => tf.conv2d(v, f, [2, 3], 'valid')],
    ['maxPool 2/2', (v, f) => tf.mul(tf.maxPool(v, 2, 2, 'valid'), tf.sum(f))],
    ['avgPool 2/2', (v, f) => tf.mul(tf.avgPool(v, 2, 2, 'valid'), tf.sum(f))],
  ];
  const gradients = async (backend: string) => {
    assert.ok(await tf.setBackend(backend), `backend ${backend} did not initialise`);
    installEngine();
    const out: Float32Array[][] = [];
    for (const [, f] of cases) {
      const [v, k] = [tf.tensor4d(xs, x.shape), tf.tensor4d(ws, w.shape)];
      const gs = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(f(a as tf.Tensor4D, b as tf.Tensor4D))))([v, k]);
      out.push(await Promise.all(gs.map((g) => g.data() as Promise<Float32Array>)));
      tf.dispose([v, k, ...gs]);
    }
    return out;
  };
  try {
    const onGpu = await gradients('webgpu');
    const onCpu = await gradients('cpu');
    cases.forEach(([name], i) => {
      for (const [j, which] of ['dx', 'dw'].entries()) {
        const e = relError(onGpu[i]![j]!, onCpu[i]![j]!);
        assert.ok(e < 1e-5, `${name}: ${which} differs from cpu by ${e} (relative)`);
      }
    });
  } finally {
    tf.dispose([x, w]);
    await tf.setBackend(before);
  }
});
