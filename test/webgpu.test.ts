/**
 * The library on tfjs's WebGPU backend, against the cpu backend: selection
 * and its adapter report, the gradient rewrites (twins of the wasm property
 * tests), the laws, and training with no synchronous read. Deno has WebGPU
 * built in; on Node it comes from the `webgpu` package (a devDependency). CI
 * gives both a CPU driver (Debian's mesa: lavapipe for Vulkan, llvmpipe for
 * OpenGL), slow but exact enough for correctness. Where no adapter can be had
 * the tests say why and are skipped; with NN_REQUIRE_WEBGPU=1 (set by
 * .ci/run) they fail instead.
 */
import { assertClose, runs, tf, withTempDir } from './helpers.ts';
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as path from 'node:path';
import * as laws from '../laws.ts';
import { adamW, disposeTrainState, evaluate, fit, lrFind, prngKey, selectBackend, type Tree } from '../mod.ts';
import { loadCheckpointOrThrow, saveCheckpoints } from '../node.ts';
import { installEngine } from '../src/backend/install.ts';
import { findGpu } from '../src/backend/webgpu.ts';
import { normal } from '../src/random.ts';
import { flattenTree } from '../src/tree.ts';
import { arbConvGradCase, arbMatMulCase, assertTwinGradients, convPad, on, twinFamilies } from './fixtures/gradient_twins.ts';
import { layerFamilies } from './fixtures/families.ts';
import { toyData, toyModel } from './fixtures/toy.ts';

let why: string | undefined, requestedReason = '';
try {
  requestedReason = (await selectBackend({ backend: 'webgpu' })).reason;
} catch (e) {
  why = (e as Error).message;
}
await tf.setBackend('cpu');
const required = process.env.NN_REQUIRE_WEBGPU === '1';

/** A test that needs an adapter: skipped with the reason where there is none, failed under NN_REQUIRE_WEBGPU=1. */
const gpuTest = (name: string, f: () => Promise<void>) =>
  test(name, async (t: TestContext) => {
    if (why !== undefined) {
      if (required) assert.fail(`NN_REQUIRE_WEBGPU=1, but ${why}`);
      t.skip(why);
      return;
    }
    await f();
  });

const relError = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) num += (a[i]! - b[i]!) ** 2, den += b[i]! ** 2;
  return Math.sqrt(num / den);
};

describe('selecting webgpu', () => {
  gpuTest('on request it runs on the adapter found and says which; by default a software adapter is passed over', async () => {
    assert.match(requestedReason, /^requested by option; adapter ".+" via (the runtime|the webgpu package)/);
    const found = await findGpu();
    assert.ok('report' in found, 'the adapter found for the request is gone');
    try {
      const chosen = await selectBackend({ warn: () => {} });
      if (found.report.software) {
        assert.notEqual(chosen.name, 'webgpu');
        assert.match(chosen.reason, /webgpu: adapter ".+" via .* \(a software adapter: it runs on the CPU\), slower than wasm/);
        assert.match(requestedReason, /a software adapter/);
      } else {
        assert.equal(chosen.name, 'webgpu', chosen.reason);
      }
    } finally {
      await tf.setBackend('cpu');
    }
  });
});

describe('gradients on webgpu match the cpu reference', () => {
  gpuTest("conv2d, maxPool and avgPool gradients on WebGPU equal the cpu backend's (strides 1, 2 and [2, 3])", async () => {
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

  gpuTest('conv2d gradients (strides 1-3, odd sizes, same/valid/explicit, 1x1) equal tfjs cpu kernels', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbConvGradCase(),
        async (r) => {
          const pad = convPad(r.pad);
          const xs = normal(prngKey(r.seed), r.n * r.h * r.w * r.ci), fs = normal(prngKey(r.seed + 1), r.ks * r.ks * r.ci * r.co);
          const ours = await on('webgpu', async () => {
            const x = tf.tensor4d(xs, [r.n, r.h, r.w, r.ci]), f = tf.tensor4d(fs, [r.ks, r.ks, r.ci, r.co]);
            const y = tf.conv2d(x, f, r.s, pad);
            const dy = tf.tensor4d(normal(prngKey(r.seed + 2), y.size), y.shape as [number, number, number, number]);
            // The library's rewrite: tf.grads goes through the registered gradient.
            const gs = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, r.s, pad), dy)))([x, f]);
            const out = await Promise.all([dy, ...gs].map((t) => t.data() as Promise<Float32Array>));
            tf.dispose([x, f, y, dy, ...gs]);
            return out;
          });
          const [dyValues, dx, dw] = ours;
          await on('cpu', async () => {
            const x = tf.tensor4d(xs, [r.n, r.h, r.w, r.ci]), f = tf.tensor4d(fs, [r.ks, r.ks, r.ci, r.co]);
            const dy = tf.tensor4d(dyValues, tf.conv2d(x, f, r.s, pad).shape as [number, number, number, number]);
            // tfjs's own cpu kernels, called directly: tf.grads would use the library's gradient.
            const stockDx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, {
              strides: [r.s, r.s],
              pad,
              dataFormat: 'NHWC',
              inputShape: x.shape,
            }) as tf.Tensor;
            const stockDw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
              strides: [r.s, r.s],
              pad,
              dataFormat: 'NHWC',
              filterShape: f.shape,
            }) as tf.Tensor;
            assertClose(dx, await stockDx.data(), 1e-4, 'dx');
            assertClose(dw, await stockDw.data(), 1e-4, 'dw');
            tf.dispose([x, f, dy, stockDx, stockDw]);
          });
        },
      ),
      runs(30),
    );
  });

  gpuTest('a conv whose window reads only padding has zero weight gradient, and binds no empty buffer', async () => {
    await on('webgpu', async () => {
      const device = (tf.backend() as unknown as { device: EventTarget }).device;
      const errors: string[] = [];
      const listen = (e: Event) => errors.push(String((e as unknown as { error: { message: string } }).error.message).split('\n')[0]);
      device.addEventListener('uncapturederror', listen);
      try {
        // 1×1 input, padding 1, stride 3: the one output position lies in the padding (found by the property above).
        const pad = convPad(1);
        const x = tf.tensor4d([0.5, -1.5], [2, 1, 1, 1]), f = tf.tensor4d([2], [1, 1, 1, 1]);
        const [dx, dw] = tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 3, pad)))([x, f]);
        // A later result in the same command buffer: stale if the GPU dropped it.
        const after = tf.add(tf.fill([2000], 1), 1);
        assert.deepEqual([Array.from(await dx.data()), Array.from(await dw.data())], [[0, 0], [0]]);
        assert.ok((await after.data()).every((v) => v === 2), 'a later result came back stale');
        await new Promise((r) => setTimeout(r, 50)); // uncaptured errors arrive as events
        assert.deepEqual(errors, []);
        tf.dispose([x, f, dx, dw, after]);
      } finally {
        device.removeEventListener('uncapturederror', listen);
      }
    });
  });

  gpuTest('the flag-free matMul gradient equals the closed form for every transpose flag', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbMatMulCase(),
        async (r) =>
          await on('webgpu', async () => {
            const a = tf.tensor2d(normal(prngKey(r.seed), r.m * r.k), r.ta ? [r.k, r.m] : [r.m, r.k]);
            const b = tf.tensor2d(normal(prngKey(r.seed + 1), r.k * r.n), r.tb ? [r.n, r.k] : [r.k, r.n]);
            const dy = tf.tensor2d(normal(prngKey(r.seed + 2), r.m * r.n), [r.m, r.n]);
            const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D, r.ta, r.tb), dy)))([a, b]);
            // With A = op(a), B = op(b): dA = dy·Bᵀ and dB = Aᵀ·dy, transposed back where op transposed.
            const [expectA, expectB] = tf.tidy(() => {
              const A = r.ta ? tf.transpose(a) : a, B = r.tb ? tf.transpose(b) : b;
              const dA = tf.matMul(dy, tf.transpose(B)), dB = tf.matMul(tf.transpose(A), dy);
              return [r.ta ? tf.transpose(dA) : dA, r.tb ? tf.transpose(dB) : dB];
            });
            const [ga, gb, ea, eb] = await Promise.all([da, db, expectA, expectB].map((t) => t.data()));
            tf.dispose([a, b, dy, da, db, expectA, expectB]);
            assertClose(ga, ea, 1e-5, 'da');
            assertClose(gb, eb, 1e-5, 'db');
          }),
      ),
      runs(20),
    );
  });

  gpuTest("addN of more tensors than a shader may bind (the finite check's hundreds) sums them all", async () => {
    await on('webgpu', async () => {
      const limit =
        (tf.backend() as unknown as { device: { limits: { maxStorageBuffersPerShaderStage: number } } }).device.limits.maxStorageBuffersPerShaderStage;
      for (const n of [limit - 1, limit, 3 * limit + 2]) {
        // 2000 values each: above tfjs-webgpu's CPU hand-off size, so the sum runs on the GPU.
        const ts = Array.from({ length: n }, (_, i) => tf.fill([2000], i + 1));
        const before = tf.memory().numTensors;
        const sum = tf.addN(ts);
        assert.equal(tf.memory().numTensors, before + 1, `addN of ${n} left tensors behind`);
        const v = await sum.data();
        assert.ok(v.every((x) => x === (n * (n + 1)) / 2), `addN of ${n} gave ${v[0]}, expected ${(n * (n + 1)) / 2}`);
        tf.dispose([...ts, sum]);
      }
    });
  });

  for (const [name, arb, n] of twinFamilies) {
    gpuTest(`${name}: webgpu gradients equal cpu gradients`, () => assertTwinGradients('webgpu', arb, Math.ceil(n / 2)));
  }
});

/** Fail on any synchronous read of a tensor that lives on the GPU (values already on the CPU are no wait). */
/** A NaN with the sign bit set, as x86 makes of 0·∞. */
const NEGATIVE_NAN = new Float32Array(new Uint32Array([0xffc00000]).buffer)[0];

describe('NaN stays NaN on webgpu', () => {
  gpuTest('relu and maxPool keep NaN of either sign, as PyTorch does; a window of -Infinity pools to -Infinity', () =>
    on('webgpu', async () => {
      // Above tfjs-webgpu's CPU hand-off size (1000 values), so that the GPU kernels run.
      const n = 1200, xs = Float32Array.from({ length: n }, (_, i) => (i % 3) - 1);
      xs[5] = NaN, xs[6] = NEGATIVE_NAN;
      const r = await tf.relu(tf.tensor1d(xs)).data();
      assert.ok(Number.isNaN(r[5]) && Number.isNaN(r[6]), `relu(NaN) gave ${r[5]}, ${r[6]}`);
      assert.deepEqual([r[0], r[1], r[2], r[3]], [0, 0, 1, 0]);
      // [2, 20, 30, 2]: a NaN in one window (stride 2 'same', 3×3) and, through batch 1 and a whole-image
      // window, the path where stock tfjs uses a Max reduction.
      const img = Float32Array.from({ length: 2 * 20 * 30 * 2 }, (_, i) => Math.sin(i));
      img[(0 * 20 * 30 + 4 * 30 + 7) * 2 + 1] = NEGATIVE_NAN; // batch 0, row 4, column 7, channel 1
      const x = tf.tensor4d(img, [2, 20, 30, 2]);
      const pooled = await tf.maxPool(x, 3, 2, 'same').data();
      const at = (b: number, i: number, j: number, c: number) => pooled[((b * 10 + i) * 15 + j) * 2 + c];
      // 'same' pads only below and right here, so output (i, j) reads rows 2i..2i+2 and columns 2j..2j+2: row 4, column 7 is in (1, 3) and (2, 3).
      for (let i = 0; i < 10; i++) {
        for (let j = 0; j < 15; j++) {
          const inWindow = (i === 1 || i === 2) && j === 3;
          assert.equal(Number.isNaN(at(0, i, j, 1)), inWindow, `window (${i}, ${j}) gave ${at(0, i, j, 1)}`);
          assert.ok(!Number.isNaN(at(0, i, j, 0)) && !Number.isNaN(at(1, i, j, 1)), 'the NaN spread to another channel or image');
        }
      }
      const whole = await tf.maxPool(tf.slice(x, [0, 0, 0, 0], [1, 20, 30, 2]), [20, 30], 1, 'valid').data();
      assert.ok(Number.isNaN(whole[1]) && !Number.isNaN(whole[0]), `a whole-image window gave ${Array.from(whole)}`);
      const low = await tf.maxPool(tf.fill([1, 40, 40, 1], -Infinity) as tf.Tensor4D, 2, 2, 'valid').data();
      assert.ok(low.every((v) => v === -Infinity), `a window of -Infinity gave ${low[0]}`);
    }));
});

describe('laws hold on webgpu', () => {
  // Fewer cases than the cpu suite's (the laws themselves are the same): the GPU here is a CPU driver.
  // A whole resNetArch (stages of 64 to 2,048 channels) took over 20 minutes for one case on it; its
  // parts (convLayer, resBlock, bottleneckBlock, pooling, dense) have their laws here, its gradients
  // are checked against cpu above, and the cpu suite runs its laws whole.
  for (const [name, arb, n] of layerFamilies.filter(([name]) => name !== 'resNetArch')) {
    const k = Math.max(1, Math.floor(n / 5));
    gpuTest(`${name}: shape, purity, determinism, gradient (training and eval), no leak, NaN (${k} cases each)`, () =>
      on('webgpu', async () => {
        const properties = [
          laws.shapeProperty(arb()),
          laws.purityProperty(arb()),
          laws.determinismProperty(arb()),
          laws.gradientProperty(arb()),
          laws.gradientProperty(arb(), { training: false }),
          laws.noLeakProperty(arb()),
          laws.nanPropagationProperty(arb()),
        ];
        for (const p of properties) await fc.assert(p, runs(k));
      }));
  }
});

const withoutSyncReads = async <T>(f: () => Promise<T>): Promise<T> => {
  const backend = tf.backend() as unknown as { readSync(id: object): unknown; tensorMap: { get(id: object): { values?: unknown } | undefined } };
  const readSync = backend.readSync;
  backend.readSync = function (id: object) {
    if (this.tensorMap.get(id)?.values == null) throw new Error('a synchronous read of a GPU tensor (dataSync or arraySync)');
    return readSync.call(this, id);
  };
  try {
    return await f();
  } finally {
    backend.readSync = readSync;
  }
};

describe('training on webgpu', () => {
  gpuTest('the sync-read trap catches a dataSync of a GPU tensor', async () => {
    await on('webgpu', async () => {
      // Above tfjs-webgpu's CPU hand-off size (1000), so that the add runs on the GPU.
      const t = tf.add(tf.ones([2000]), 1);
      await assert.rejects(withoutSyncReads(() => Promise.resolve(t.dataSync())), /a synchronous read of a GPU tensor/);
      assert.ok((await t.data()).every((v) => v === 2));
      t.dispose();
    });
  });

  gpuTest('fit, evaluate and lrFind read nothing synchronously, and fit gives the losses and params that cpu gives', async () => {
    const run = async () => {
      const data = toyData(32, 8);
      const { trainState, history } = await fit(toyModel(), data, { epochs: 2, opt: adamW(3e-3), observers: [] });
      const again = await evaluate(toyModel(), trainState, data.valid);
      const params = await Promise.all(flattenTree(trainState.params).map(async ([p, t]) => [p, await t.data()] as const));
      disposeTrainState(trainState);
      const sweep = await lrFind(toyModel(), data.train, { numIt: 6 });
      return { history, again, params, sweep };
    };
    const before = tf.memory().numTensors;
    const gpu = await on('webgpu', () => withoutSyncReads(run));
    assert.equal(tf.memory().numTensors, before, 'training on webgpu left tensors behind');
    const cpu = await on('cpu', run);
    gpu.history.forEach((row, i) => {
      const ref = cpu.history[i];
      assertClose([row.trainLoss, row.validLoss], [ref.trainLoss, ref.validLoss], 1e-4, `epoch ${i} losses`);
      assert.equal(row.metrics.accuracy, ref.metrics.accuracy, `epoch ${i} accuracy`);
    });
    assertClose([gpu.again.loss], [cpu.again.loss], 1e-4, 'evaluate');
    gpu.params.forEach(([p, v], i) => assertClose(v, cpu.params[i][1], 1e-4, p));
    assertClose(gpu.sweep.losses, cpu.sweep.losses, 1e-4, 'lrFind losses');
  });

  gpuTest(
    'saveCheckpoints writes the state fit trained on webgpu, reading nothing synchronously, and it loads back exactly',
    () =>
      withTempDir('webgpu', (dir) =>
        on('webgpu', async () => {
          const file = path.join(dir, 'toy.safetensors'), opt = adamW(3e-3);
          const before = tf.memory().numTensors;
          const { trainState } = await withoutSyncReads(() =>
            fit(toyModel(), toyData(32, 8), { epochs: 1, opt, observers: [], callbacks: [saveCheckpoints({ path: file, config: { model: 'toy' } })] })
          );
          const loaded = loadCheckpointOrThrow(file, { model: toyModel(), opt, inShape: [8, 8, 1] });
          assert.deepEqual(loaded.config, { model: 'toy' });
          assert.equal(loaded.trainState.step, trainState.step);
          const values = (tree: Tree) => Promise.all(flattenTree(tree).map(async ([p, t]) => [p, Array.from(await t.data())]));
          for (const field of ['params', 'state', 'optState'] as const) {
            assert.deepEqual(await values(loaded.trainState[field]), await values(trainState[field]), field);
          }
          disposeTrainState(loaded.trainState);
          disposeTrainState(trainState);
          assert.equal(tf.memory().numTensors, before, 'saving on webgpu left tensors behind');
        })),
  );
});
