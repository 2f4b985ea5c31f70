/**
 * Backends: selection, and training on wasm. Every gradient on wasm is
 * compared with the cpu backend's reference on random configurations.
 */
import { assertClose, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  adam,
  adamW,
  type AnyTransformation,
  backendInfo,
  batchNorm,
  crossEntropy,
  disposeTrainState,
  disposeTree,
  flattenTree,
  initTrainState,
  momentum,
  normal,
  prngKey,
  rmsprop,
  selectBackend,
  sgd,
  trainStep,
  type Tree,
  valueAndGrad,
} from '../mod.ts';
import { toyData, toyModel } from './fixtures/toy.ts';
import { arbConvGradCase, arbMatMulCase, assertTwinGradients, convPad, on, twinFamilies } from './fixtures/gradient_twins.ts';
import { describeAdapter } from '../src/backend/webgpu.ts';
import { installEngine } from '../src/backend/install.ts';
import { conv2dFilterGrad, conv2dInputGrad, installConvGradients } from '../src/backend/conv_grad.ts';
import { installMatMulGradient } from '../src/backend/matmul_grad.ts';
import { adamStep as adamMoments } from '../src/ops/adam.ts';
import { batchNormTrainBackward, batchNormTrainForward, hasBatchNormKernels } from '../src/backend/batchnorm_kernels.ts';
import { preferRelaxedSimd, relaxedSimdSupported } from '../src/backend/wasm_asm.ts';

/**
 * The engines the library's SIMD kernels are checked on: wasm with relaxed SIMD's fused multiply-adds (where this
 * runtime has it; Deno always does, and Node 20 with a flag: see test/relaxed_simd.test.ts) and without, and cpu.
 */
const kernelEngines = (): { name: string; backend: string; relaxed?: boolean }[] => [
  { name: 'cpu', backend: 'cpu' },
  ...(relaxedSimdSupported() ? [{ name: 'wasm (relaxed SIMD)', backend: 'wasm', relaxed: true }] : []),
  { name: 'wasm', backend: 'wasm', relaxed: false },
];

/** Run `f` on an engine of {@link kernelEngines}. */
const onEngine = async <T>(e: { backend: string; relaxed?: boolean }, f: () => T): Promise<T> => {
  preferRelaxedSimd(e.relaxed ?? true);
  try {
    return await on(e.backend, f);
  } finally {
    preferRelaxedSimd(true);
  }
};

installConvGradients();

describe('backend selection', () => {
  test('an explicit option or NN_BACKEND chooses, and the reason is reported', async () => {
    const before = tf.getBackend();
    try {
      assert.deepEqual(await selectBackend({ backend: 'cpu' }), { name: 'cpu', reason: 'requested by option' });
      assert.deepEqual(backendInfo(), { name: 'cpu', reason: 'requested by option' });
      const saved = process.env.NN_BACKEND;
      process.env.NN_BACKEND = 'wasm';
      try {
        const wasm = await selectBackend();
        assert.equal(wasm.name, 'wasm');
        assert.match(
          wasm.reason,
          new RegExp(`^requested by NN_BACKEND; \\d threads? \\((default: one per core|already started)\\)${relaxedSimdSupported() ? ', relaxed SIMD' : ''}$`),
        );
        process.env.NN_BACKEND = 'tpu';
        await assert.rejects(selectBackend(), /NN_BACKEND: expected one of tensorflow, webgpu, wasm, cpu, got "tpu"/);
      } finally {
        if (saved === undefined) delete process.env.NN_BACKEND;
        else process.env.NN_BACKEND = saved;
      }
      // By default: the native packages cannot install here, so wasm, saying why.
      const warnings: string[] = [];
      const chosen = await selectBackend({ warn: (l) => warnings.push(l) });
      assert.equal(chosen.name, 'wasm');
      assert.match(chosen.reason, /^default: @tensorflow\/tfjs-node-gpu (not installed|broken install)/);
      await assert.rejects(selectBackend({ backend: 'tensorflow' }), /backend tensorflow \(requested by option\) is unavailable/);
      // A broken native install falls back with one line saying what to fix.
      const broken = new URL('./fixtures/broken_native.ts', import.meta.url).href;
      const lines: string[] = [];
      const fallback = await selectBackend({ nativePackages: [broken], warn: (l) => lines.push(l) });
      assert.equal(fallback.name, 'wasm');
      assert.equal(lines.length, 1);
      assert.match(
        lines[0],
        /is installed but unusable \(broken install: its native binding is missing .*reinstall it where libtensorflow can be downloaded\); falling back/,
      );
      assert.match(fallback.reason, /broken install/);
    } finally {
      await tf.setBackend(before);
    }
  });
});

describe('strided gradients pad nothing above rank 4 (tfjs-webgpu miscompiles rank-5 and rank-6 pads)', () => {
  test('conv2d (strides 2 and [2, 3]), maxPool and avgPool gradients: every Pad input is rank 4', async () => {
    installEngine();
    const x = tf.randomNormal([2, 7, 7, 3], 0, 1, 'float32', 1) as tf.Tensor4D, w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    const cases: [string, (v: tf.Tensor) => tf.Tensor][] = [
      ['conv stride 2', (v) => tf.conv2d(v as tf.Tensor4D, w, 2, 'same')],
      ['conv stride [2, 3]', (v) => tf.conv2d(v as tf.Tensor4D, w, [2, 3], 'valid')],
      ['maxPool 2/2', (v) => tf.maxPool(v as tf.Tensor4D, 2, 2, 'valid')],
      ['avgPool 2/2', (v) => tf.avgPool(v as tf.Tensor4D, 2, 2, 'valid')],
    ];
    for (const [name, f] of cases) {
      const info = await tf.profile(() => tf.grad((v: tf.Tensor) => tf.sum(tf.square(f(v))))(x));
      const pads = info.kernels.filter((k) => k.name === 'PadV2' || k.name === 'Pad').map((k) => k.inputShapes[0]?.length);
      if (name.startsWith('conv')) assert.ok(pads.length > 0, `${name}: the gradient pads (the check reads the profile)`);
      assert.deepEqual(pads.filter((r) => r !== 4), [], `${name}: pads of rank ${pads}`);
      tf.dispose(info.result as tf.Tensor);
    }
    tf.dispose([x, w]);
  });
});

describe('judging a WebGPU adapter', () => {
  test('a fallback adapter, or a CPU rasteriser by name, is software; a GPU is not', () => {
    const cases: [Parameters<typeof describeAdapter>[0], boolean, string][] = [
      // Deno on lavapipe: PCI ids for vendor and device, the fallback flag set.
      [{ vendor: '65541', device: '0', description: 'llvmpipe (LLVM 15.0.6, 256 bits)', isFallbackAdapter: true }, true, 'llvmpipe (LLVM 15.0.6, 256 bits)'],
      // Dawn on OpenGL names the GL version, and the renderer as the device, and calls it no fallback.
      [
        { device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'OpenGL version 4.5 (Core Profile) Mesa 22.3.6', isFallbackAdapter: false },
        true,
        'OpenGL version 4.5 (Core Profile) Mesa 22.3.6, llvmpipe-llvm-15-0-6-256-bits-',
      ],
      [{ vendor: 'google', architecture: 'swiftshader', description: '' }, true, 'swiftshader, google'],
      [{ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' }, true, 'Microsoft Basic Render Driver, microsoft'],
      [{ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' }, false, 'NVIDIA H200, hopper'],
      [{ vendor: 'apple', architecture: 'metal-3', description: '' }, false, 'metal-3, apple'],
      [{}, false, 'an adapter with no description'],
    ];
    for (const [info, software, description] of cases) {
      assert.deepEqual(describeAdapter(info, 'the runtime'), { description, software, via: 'the runtime' }, JSON.stringify(info));
    }
    // Where the runtime flags the adapter itself (adapter.isFallbackAdapter, the older spelling).
    assert.equal(describeAdapter({ description: 'Some GPU' }, 'the runtime', true).software, true);
  });
});

describe('selectBackend options', () => {
  test('a misspelt or ill-typed option is a ConfigError naming it, and nothing is selected', async () => {
    const before = tf.getBackend();
    await assert.rejects(selectBackend({ wasmPath: '/w/' } as never), /selectBackend\.wasmPath: unknown option, got "\/w\/"; did you mean wasmPaths\?/);
    await assert.rejects(selectBackend({ wasmPaths: 'wasm' }), /selectBackend\.wasmPaths: expected a URL prefix ending in '\/', got "wasm"/);
    await assert.rejects(selectBackend({ nativePackages: 'tfjs-node' } as never), /selectBackend\.nativePackages: expected a list of package names/);
    assert.equal(tf.getBackend(), before);
  });
});

describe('gradient rewrites survive a re-registration', () => {
  test('installEngine wraps the gradient again after something (a native engine loading the tfjs umbrella) registers it anew', () => {
    installEngine();
    const ours = tf.getGradient('BatchMatMul')!;
    // What the umbrella does on import: register a gradient for the kernel, replacing the rewrite.
    const registeredAgain: tf.GradFunc = (dy, saved, attrs) => ours.gradFunc(dy, saved, attrs);
    tf.registerGradient({ ...ours, gradFunc: registeredAgain });
    installEngine();
    const now = tf.getGradient('BatchMatMul')!.gradFunc;
    assert.notEqual(now, registeredAgain, 'the rewrite was not installed again');
    installEngine();
    assert.equal(tf.getGradient('BatchMatMul')!.gradFunc, now, 'a second installEngine re-wrapped an installed rewrite');
    const [a, b] = [tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])];
    const [da] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D)))([a, b]);
    assertClose(Array.from(da!.dataSync()), [11, 15, 11, 15], 1e-6);
    tf.dispose([a, b, da!]);
  });
});

describe('gradients on wasm match the cpu reference', () => {
  test('conv2d gradients as forward convs equal tfjs kernels (strides 1-3, odd sizes, same/valid/explicit, 1x1)', () => {
    fc.assert(
      fc.property(
        arbConvGradCase(),
        (r) =>
          tf.tidy(() => {
            const pad = convPad(r.pad);
            const x = tf.tensor4d(normal(prngKey(r.seed), r.n * r.h * r.w * r.ci), [r.n, r.h, r.w, r.ci]);
            const f = tf.tensor4d(normal(prngKey(r.seed + 1), r.ks * r.ks * r.ci * r.co), [r.ks, r.ks, r.ci, r.co]);
            const y = tf.conv2d(x, f, r.s, pad);
            const dy = tf.tensor4d(normal(prngKey(r.seed + 2), y.size), y.shape as [number, number, number, number]);
            const info = tf.backend_util.computeConv2DInfo(x.shape, f.shape, [r.s, r.s], [1, 1], pad, undefined, false, 'channelsLast');
            assertClose(
              conv2dInputGrad(dy, f, x.shape, [r.s, r.s], info.padInfo).dataSync(),
              tf.conv2dTranspose(dy, f, x.shape, r.s, pad).dataSync(),
              1e-4,
              'dx',
            );
            // tfjs's own cpu kernel, called directly: tf.grad would use our registered gradient.
            const stockDw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
              strides: [r.s, r.s],
              pad,
              dataFormat: 'NHWC',
              filterShape: f.shape,
            }) as tf.Tensor;
            assertClose(conv2dFilterGrad(x, dy, f.shape, [r.s, r.s], info.padInfo).dataSync(), stockDw.dataSync(), 1e-4, 'dw');
          }),
      ),
      { numRuns: 60 },
    );
  });

  test('the flag-free matMul gradient equals the closed form for every transpose flag', () => {
    installMatMulGradient();
    fc.assert(
      fc.property(
        arbMatMulCase(),
        (r) =>
          tf.tidy(() => {
            const a = tf.tensor2d(normal(prngKey(r.seed), r.m * r.k), r.ta ? [r.k, r.m] : [r.m, r.k]);
            const b = tf.tensor2d(normal(prngKey(r.seed + 1), r.k * r.n), r.tb ? [r.n, r.k] : [r.k, r.n]);
            const dy = tf.tensor2d(normal(prngKey(r.seed + 2), r.m * r.n), [r.m, r.n]);
            const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D, r.ta, r.tb), dy)))([a, b]);
            // With A = op(a), B = op(b): dA = dy·Bᵀ and dB = Aᵀ·dy, transposed back where op transposed.
            const A = r.ta ? tf.transpose(a) : a, B = r.tb ? tf.transpose(b) : b;
            const dA = tf.matMul(dy, tf.transpose(B)), dB = tf.matMul(tf.transpose(A), dy);
            assertClose(da.dataSync(), (r.ta ? tf.transpose(dA) : dA).dataSync(), 1e-5, 'da');
            assertClose(db.dataSync(), (r.tb ? tf.transpose(dB) : dB).dataSync(), 1e-5, 'db');
          }),
      ),
      { numRuns: 40 },
    );
  });

  for (const [name, arb, n] of twinFamilies) {
    test(`${name}: wasm gradients equal cpu gradients`, async () => {
      await selectBackend({ backend: 'wasm' });
      await tf.setBackend('cpu');
      await assertTwinGradients('wasm', arb, n);
    });
  }
});

describe('zero-copy Identity and Cast on wasm, the matMul guard and the in-place Slice', () => {
  test('share the buffer, keep the values after the source is disposed, and free it once both are gone', async () => {
    await selectBackend({ backend: 'wasm' });
    await tf.setBackend('wasm');
    try {
      const buffers = () => tf.engine().backend.numDataIds();
      const before = buffers();
      const x = tf.tensor([1.5, -2, 3.25, 4]);
      const id = tf.engine().runKernel('Identity', { x }) as tf.Tensor;
      const same = tf.cast(x, 'float32');
      const ints = tf.cast(x, 'int32');
      x.dispose();
      assert.deepEqual(Array.from(id.dataSync()), [1.5, -2, 3.25, 4]);
      assert.deepEqual(Array.from(same.dataSync()), [1.5, -2, 3.25, 4]);
      assert.equal(ints.dtype, 'int32');
      assert.deepEqual(Array.from(ints.dataSync()), [1, -2, 3, 4]);
      // One shared float buffer plus the int copy.
      assert.equal(buffers() - before, 2);
      [id, same, ints].forEach((t) => t.dispose());
      assert.equal(buffers(), before);
    } finally {
      await tf.setBackend('cpu');
    }
  });

  test('a buffer reused as matMul right operand under another shape gives the right product (stock wasm aborts)', async () => {
    await selectBackend({ backend: 'wasm' });
    const t = normal(prngKey(1), 48), a1 = normal(prngKey(2), 16), a2 = normal(prngKey(3), 36);
    const products = () =>
      tf.tidy(() => {
        const tt = tf.tensor(t, [8, 6]);
        const first = tf.matMul(tf.tensor(a1, [2, 8]), tt).dataSync();
        const second = tf.matMul(tf.tensor(a2, [3, 12]), tf.reshape(tt, [12, 4])).dataSync();
        const third = tf.matMul(tf.tensor(a1, [2, 8]), tt).dataSync();
        return [first, second, third];
      });
    const cpu = await on('cpu', products);
    const wasm = await on('wasm', products);
    wasm.forEach((p, i) => assertClose(p, cpu[i], 1e-5, `product ${i}`));
  });

  test('slice equals the cpu backend on random windows of every rank and dtype', async () => {
    await selectBackend({ backend: 'wasm' });
    const window = fc.integer({ min: 1, max: 5 }).chain((rank) =>
      fc.tuple(
        ...Array.from({ length: rank }, () =>
          fc.integer({ min: 1, max: 5 }).chain((n) =>
            fc.integer({ min: 0, max: n - 1 }).chain((b) =>
              fc.tuple(fc.constant(n), fc.constant(b), fc.integer({ min: 0, max: n - b }))
            )
          )),
      )
    );
    await fc.assert(
      fc.asyncProperty(window, fc.constantFrom<'float32' | 'int32' | 'bool'>('float32', 'int32', 'bool'), async (axes, dtype) => {
        const shape = axes.map(([n]) => n), begin = axes.map(([, b]) => b), size = axes.map(([, , s]) => s);
        const values = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (dtype === 'bool' ? i % 3 === 0 : i * 1.5 - 7));
        const sliced = () => tf.tidy(() => Array.from(tf.slice(tf.tensor(values as number[], shape, dtype), begin, size).dataSync()));
        const cpu = await on('cpu', sliced);
        assert.deepEqual(await on('wasm', sliced), cpu, `shape ${shape} begin ${begin} size ${size}`);
      }),
      { numRuns: 150 },
    );
  });
});

describe('the fused BatchNorm kernels', () => {
  test('match a float64 reference on wasm (SIMD, relaxed SIMD where the runtime has it, and not) and cpu, forward and backward', async () => {
    await selectBackend({ backend: 'wasm' });
    await tf.setBackend('cpu');
    const cases = fc.sample(
      fc.record({
        rows: fc.integer({ min: 2, max: 700 }),
        c: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.constantFrom(64, 260)),
        shift: fc.double({ min: -3, max: 3, noNaN: true }),
        seed: fc.nat(),
      }),
      { numRuns: 30, seed: 11 },
    );
    for (const r of cases) {
      const n = r.rows * r.c, eps = 1e-5;
      const x = Float32Array.from(normal(prngKey(r.seed), n), (v) => v + r.shift), dy = normal(prngKey(r.seed + 1), n);
      const g = normal(prngKey(r.seed + 2), r.c), b = normal(prngKey(r.seed + 3), r.c);
      // The reference, in float64: batch statistics, y = x̂·γ + β, and the closed-form gradients.
      const mean = Array.from({ length: r.c }, (_, j) => {
        let s = 0;
        for (let i = j; i < n; i += r.c) s += x[i];
        return s / r.rows;
      });
      const variance = mean.map((m, j) => {
        let s = 0;
        for (let i = j; i < n; i += r.c) s += (x[i] - m) ** 2;
        return s / r.rows;
      });
      const inv = variance.map((v) => 1 / Math.sqrt(v + eps));
      const xhat = Array.from(x, (v, i) => (v - mean[i % r.c]) * inv[i % r.c]);
      const y = xhat.map((v, i) => v * g[i % r.c] + b[i % r.c]);
      const dBeta = mean.map((_, j) => {
        let s = 0;
        for (let i = j; i < n; i += r.c) s += dy[i];
        return s;
      });
      const dGamma = mean.map((_, j) => {
        let s = 0;
        for (let i = j; i < n; i += r.c) s += dy[i] * xhat[i];
        return s;
      });
      const dx = Array.from(dy, (d, i) => {
        const j = i % r.c;
        return g[j] * inv[j] * (d - dBeta[j] / r.rows - xhat[i] * dGamma[j] / r.rows);
      });
      for (const engine of kernelEngines()) {
        const backend = engine.name;
        const got = await onEngine(engine, () =>
          tf.tidy(() => {
            const xt = tf.tensor(x, [r.rows, r.c]), gt = tf.tensor1d(g), bt = tf.tensor1d(b);
            const [yt, mt, vt] = batchNormTrainForward(xt, gt, bt, eps);
            const back = batchNormTrainBackward(tf.tensor(dy, [r.rows, r.c]), xt, gt, mt, vt, eps);
            return [yt, mt, vt, ...back].map((t) => t.dataSync());
          }));
        const want = [y, mean, variance, dx, dGamma, dBeta];
        const names = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'];
        want.forEach((w, i) =>
          assertClose(got[i], w, 2e-4 * w.reduce((a, v) => Math.max(a, Math.abs(v)), 1), `${backend} ${names[i]} (rows ${r.rows}, c ${r.c})`)
        );
      }
    }
  });
});

describe('batchNorm without the fused kernels (as on tfjs-node)', () => {
  test('falls back to tfjs ops with the same outputs, running stats and gradients', () => {
    const bn = batchNorm();
    const run = () => {
      const { params, state } = bn.init(prngKey(5), [3, 4, 6]);
      const x = tf.tensor(Float32Array.from(normal(prngKey(6), 2 * 3 * 4 * 6), (v) => 2 * v + 1), [2, 3, 4, 6]);
      const proj = tf.tensor(normal(prngKey(7), 2 * 3 * 4 * 6), [2, 3, 4, 6]);
      const vg = valueAndGrad((t: Tree) => {
        const { p, x: xi } = t as { p: Tree; x: tf.Tensor };
        const r = bn.apply(p as never, state, xi, { training: true });
        return { loss: tf.sum(tf.mul(r.y as tf.Tensor, proj)) as tf.Scalar, aux: r.state as Tree };
      })({ p: params, x });
      const out = [...flattenTree(vg.grads), ...flattenTree(vg.aux!)].map(([path, t]) => [path, Array.from(t.dataSync())] as const);
      [params, state, vg.grads, vg.aux!].forEach(disposeTree);
      [x, proj, vg.value].forEach((t) => t.dispose());
      return out;
    };
    const fused = run();
    const configs = ['TsnnBatchNormTrain', 'TsnnBatchNormGrad', 'TsnnBatchNormRunningStats'].map((k) => tf.getKernel(k, 'cpu')!);
    configs.forEach((c) => tf.unregisterKernel(c.kernelName, 'cpu'));
    try {
      assert.equal(hasBatchNormKernels(), false);
      const ops = run();
      assert.deepEqual(ops.map(([p]) => p), fused.map(([p]) => p));
      ops.forEach(([p, v], i) => assertClose(v, fused[i][1], 1e-4, p));
    } finally {
      configs.forEach((c) => tf.registerKernel(c));
    }
    assert.equal(hasBatchNormKernels(), true);
  });
});

describe('the fused Adam kernel', () => {
  test('matches the textbook formula on wasm (with relaxed SIMD where the runtime has it) and on cpu, for any hyperparameters, with and without the AdamW terms and applied', async () => {
    await selectBackend({ backend: 'wasm' });
    await tf.setBackend('cpu');
    const cases = fc.sample(
      fc.record({
        n: fc.integer({ min: 0, max: 40 }),
        b1: fc.double({ min: 0, max: 0.99, noNaN: true }),
        b2: fc.double({ min: 0, max: 0.999, noNaN: true }),
        t: fc.integer({ min: 1, max: 50 }),
        eps: fc.constantFrom(0, 1e-8, 1e-5),
        epsRoot: fc.constantFrom(0, 1e-6),
        seed: fc.nat(),
      }),
      { numRuns: 40, seed: 7 },
    );
    for (const r of cases) {
      const g = normal(prngKey(r.seed), r.n), m = normal(prngKey(r.seed + 1), r.n);
      const v = Float32Array.from(normal(prngKey(r.seed + 2), r.n), Math.abs);
      const h = { b1: r.b1, b2: r.b2, c1: 1 - r.b1 ** r.t, c2: 1 - r.b2 ** r.t, eps: r.eps, epsRoot: r.epsRoot };
      const mu = Array.from(g, (gi, i) => r.b1 * m[i] + (1 - r.b1) * gi);
      const nu = Array.from(g, (gi, i) => r.b2 * v[i] + (1 - r.b2) * gi * gi);
      const u = mu.map((mi, i) => mi / h.c1 / (Math.sqrt(nu[i] / h.c2 + r.epsRoot) + r.eps));
      // AdamW's whole update: −lr·(u + wd·p).
      const p = normal(prngKey(r.seed + 3), r.n), lr = 1e-3 * (1 + r.t), wd = r.t % 2 ? 0.01 : 0;
      const full = u.map((ui, i) => -lr * (ui + wd * p[i]));
      for (const engine of kernelEngines()) {
        const backend = engine.name, on = <T>(f: () => T) => onEngine(engine, f);
        const got = await on(() => tf.tidy(() => adamMoments(tf.tensor1d(g), tf.tensor1d(m), tf.tensor1d(v), h).map((x: tf.Tensor) => x.dataSync())));
        [mu, nu, u].forEach((want, i) => assertClose(got[i], want, 1e-5 * Math.max(1, ...want.map(Math.abs)), `${backend} output ${i}`));
        const withP = await on(
          () => tf.tidy(() => adamMoments(tf.tensor1d(g), tf.tensor1d(m), tf.tensor1d(v), { ...h, lr, wd }, tf.tensor1d(p))[2].dataSync()),
        );
        assertClose(withP, full, 1e-5 * Math.max(1e-3, ...full.map(Math.abs)), `${backend} AdamW update`);
        const applied = await on(
          () => tf.tidy(() => adamMoments(tf.tensor1d(g), tf.tensor1d(m), tf.tensor1d(v), { ...h, lr, wd, apply: true }, tf.tensor1d(p))[2].dataSync()),
        );
        assertClose(applied, full.map((f, i) => p[i] + f), 1e-5 * Math.max(1, ...p.map(Math.abs)), `${backend} AdamW applied`);
      }
    }
  });
});

describe('training on wasm', () => {
  test('every optimizer trains the toy model on wasm and the loss falls', async () => {
    await selectBackend({ backend: 'wasm' });
    try {
      const opts: [string, AnyTransformation][] = [['sgd', sgd(0.1)], ['momentum', momentum(0.05)], ['rmsprop', rmsprop(3e-3)], ['adam', adam(1e-2)], [
        'adamW',
        adamW(1e-2),
      ]];
      for (const [name, opt] of opts) {
        const model = toyModel();
        let ts = initTrainState(model, opt, prngKey(0), [8, 8, 1]);
        const step = trainStep(model, crossEntropy, opt);
        const losses: number[] = [];
        for (let epoch = 0; epoch < 4; epoch++) {
          for (const b of toyData().train.batches(epoch)) {
            const r = await step(ts, b);
            b.x.dispose();
            b.y.dispose();
            disposeTrainState({ ...ts, params: ts.params, state: ts.state, optState: ts.optState });
            ts = r.trainState;
            losses.push(r.loss);
          }
        }
        const first = losses.slice(0, 4).reduce((a, b) => a + b) / 4, last = losses.slice(-4).reduce((a, b) => a + b) / 4;
        assert.ok(last < 0.7 * first, `${name}: loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
        disposeTrainState(ts);
      }
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
