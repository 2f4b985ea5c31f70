/**
 * Every option and numeric argument of every public factory, given each
 * hostile value: NaN, ±Infinity, strings, a boolean, null, undefined, 0, a
 * negative, fractions and a small integer. Each case has an explicit
 * expectation, decided here per field (not read back from the codec under
 * test, so that a permissive codec cannot pass itself):
 *
 * - the value is outside the field's domain: a ConfigError (thrown, or the
 *   promise rejects with it) whose message names the field's path and shows
 *   the value as `got <value>` (NaN as NaN, never null);
 * - the value is in the domain: the call succeeds, and its result works (a
 *   layer initialises and applies to finite outputs, an optimizer takes a
 *   finite step, a schedule gives finite values, a loader yields finite
 *   batches). A few calls end in a documented non-option error for valid
 *   options (a missing folder is a DatasetError); each such row says so.
 *
 * Any other outcome (a TypeError, a RangeError, a silent acceptance, a
 * message that does not name the field) fails the case. A last group gives
 * size options absurd values, which must be refused before allocating.
 */
import { tf } from './helpers.ts';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  adam,
  adamW,
  add,
  addDecayedWeights,
  avgPool,
  batchNorm,
  chain,
  channelStats,
  clipByGlobalNorm,
  combinedCos,
  combineScheds,
  ConfigError,
  conv2d,
  convLayer,
  crossEntropy,
  crossEntropyWith,
  dataLoader,
  dense,
  disposeTrainState,
  dropout,
  epochTable,
  evalCtx,
  evalStep,
  evaluate,
  fanOut,
  fit,
  fitOneCycle,
  flatCos,
  foldIn,
  hyperAt,
  identity,
  initTrainState,
  kaimingNormal,
  kaimingUniform,
  leakyRelu,
  linear,
  lrFind,
  masked,
  maxPool,
  momentum,
  normal,
  oneCycle,
  parallel,
  permutation,
  perStep,
  plainNet,
  pointwise,
  prngKey,
  relu,
  resBlock,
  resNet,
  resNet2,
  rmsprop,
  runningMean,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRms,
  schedCos,
  schedExp,
  schedLin,
  schedNo,
  serial,
  sgd,
  split,
  tidyTransformation,
  torchDefaultUniform,
  trace,
  trainCtx,
  trainStep,
  uniform,
  warmup,
  withKind,
  withLabel,
  xavierUniform,
} from '../mod.ts';
import { dataParallel, DatasetError, encodeIdx, jsonLog, loadFashionMnist, loadImageFolder, parseIdx, readFashionMnist, saveCheckpoints } from '../node.ts';
import { showValue } from '../src/config.ts';
import { FASHION_MNIST_FILES } from '../src/data/fashion_mnist.ts';
import { toyData, toyDataset, toyModel } from './fixtures/toy.ts';

// ---------------------------------------------------------------------------
// Hostile values and domains
// ---------------------------------------------------------------------------

const HOSTILE: readonly unknown[] = [NaN, Infinity, -Infinity, 'x', '2', true, null, undefined, 0, -1, 0.5, 1.5, 3];

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** The domains, written out here. */
const D = {
  posInt: (v: unknown) => Number.isInteger(v) && (v as number) >= 1,
  nonNegInt: (v: unknown) => Number.isInteger(v) && (v as number) >= 0,
  safeInt: (v: unknown) => Number.isSafeInteger(v),
  positive: (v: unknown) => isNum(v) && v > 0,
  nonNegative: (v: unknown) => isNum(v) && v >= 0,
  unit: (v: unknown) => isNum(v) && v >= 0 && v < 1,
  fraction: (v: unknown) => isNum(v) && v >= 0 && v <= 1,
  finite: isNum,
  boolean: (v: unknown) => typeof v === 'boolean',
  string: (v: unknown) => typeof v === 'string',
  nonEmptyString: (v: unknown) => typeof v === 'string' && v !== '',
  /** Functions, records, tensors, keys, transformations, literals: no hostile value is one. */
  never: (_: unknown) => false,
  is: (...ok: unknown[]) => (v: unknown) => ok.some((o) => Object.is(o, v)),
};
type Domain = (v: unknown) => boolean;

/**
 * One field: the path its messages name, its domain, whether it may be
 * left out (then `undefined` is valid: the default), the call with the
 * value in place, and what must work with the result when the value is valid.
 */
interface Row {
  readonly field: string;
  readonly valid: Domain;
  readonly optional?: boolean;
  readonly call: (v: unknown) => unknown;
  readonly use?: (result: never, v: unknown) => unknown;
  /** For valid values: a non-option error this call is documented to end in (e.g. a missing folder). */
  readonly expected?: (e: unknown) => boolean;
  /** What the message must contain to name the field, when not `field:` or `field.` (default). */
  readonly names?: string;
  /** How the message may show the value, when not as itself (a union shows the whole tuple). */
  readonly shows?: (v: unknown) => readonly unknown[];
}

const row = (field: string, valid: Domain, call: (v: unknown) => unknown, more: Partial<Row> = {}): Row => ({ field, valid, call, ...more });
const opt = (field: string, valid: Domain, call: (v: unknown) => unknown, more: Partial<Row> = {}): Row => row(field, valid, call, { optional: true, ...more });
/** `{ ...base, [key]: v }`, typed loosely on purpose. */
const w = <T extends object>(base: T, key: string) => (v: unknown) => ({ ...base, [key]: v }) as never;

// ---------------------------------------------------------------------------
// What "works" means for each kind of result
// ---------------------------------------------------------------------------

const finiteAll = (t: tf.Tensor, what: string) => {
  const bad = Array.from(t.dataSync()).findIndex((x) => !Number.isFinite(x));
  assert.equal(bad, -1, `${what}: a non-finite value at ${bad}`);
};

/** A layer initialises on `inShape` and applies, in training and evaluation, to finite outputs. */
const layerWorks = (inShape: number[]) => (layer: ReturnType<typeof dense>) => {
  tf.tidy(() => {
    const { params, state, outShape } = layer.init(prngKey(0), inShape);
    const x = tf.randomNormal([2, ...inShape], 0, 1, 'float32', 1);
    for (const ctx of [evalCtx, trainCtx(prngKey(1))]) {
      const { y } = layer.apply(params, state, x, ctx);
      const ys = Array.isArray(y) ? y : [y as tf.Tensor];
      const outs = Array.isArray(outShape[0]) ? (outShape as number[][]) : [outShape as number[]];
      ys.forEach((t, i) => {
        assert.deepEqual(t.shape.slice(1), outs[i], `${layer.name}: output shape`);
        finiteAll(t, layer.name);
      });
    }
    tf.dispose([params, state] as never);
  });
};

/** An optimizer takes two finite steps on a small parameter tree. */
const optimizerWorks = (opt: ReturnType<typeof sgd>) => {
  tf.tidy(() => {
    const params = { w: tf.tensor2d([[1, -2], [3, 0.5]]), b: tf.tensor1d([0.1, -0.1]) };
    const grads = { w: tf.tensor2d([[0.5, -1], [0.25, 2]]), b: tf.tensor1d([1, -1]) };
    let state = opt.init(params);
    for (let i = 0; i < 2; i++) {
      const r = opt.update(grads, state, params);
      Object.values(r.updates as Record<string, tf.Tensor>).forEach((u) => finiteAll(u, opt.name));
      state = r.state;
    }
  });
};

/** A schedule of position gives finite values over [0, 1]. */
const schedWorks = (s: (p: number) => number) => [0, 0.1, 0.3, 0.5, 0.9, 1].forEach((p) => assert.ok(Number.isFinite(s(p)), `sched(${p}) = ${s(p)}`));

/** A loader yields finite batches over one epoch. */
const loaderWorks = (l: ReturnType<typeof dataLoader>) => {
  for (const b of l.batches(0)) {
    finiteAll(b.x, 'loader x');
    b.x.dispose();
    b.y.dispose();
  }
};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const made: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnn-fuzz-'));
  made.push(d);
  return d;
};
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const ds = toyDataset(8);
const maxLabel = Math.max(...ds.y);
const fast = { observers: [], maxSteps: 0 } as const;
const fakeFashion = (() => {
  const dir = tmp(), f = FASHION_MNIST_FILES;
  const images = (k: number) => gzipSync(encodeIdx([k, 28, 28], new Uint8Array(k * 784)));
  const labels = (k: number) => gzipSync(encodeIdx([k], Uint8Array.from({ length: k }, (_, i) => i % 10)));
  for (
    const [name, bytes] of [[f.trainImages.name, images(2)], [f.trainLabels.name, labels(2)], [f.testImages.name, images(2)], [
      f.testLabels.name,
      labels(2),
    ]] as const
  ) {
    fs.writeFileSync(path.join(dir, name), bytes);
  }
  return dir;
})();
const idxFile = encodeIdx([2, 3], new Uint8Array(6));
/** Strings given as paths are put under a temporary folder, so that nothing is written into the checkout. */
const under = (dir: string) => (v: unknown) => (typeof v === 'string' ? path.join(dir, v) : v);
const isDatasetError = (e: unknown) => e instanceof DatasetError;

// ---------------------------------------------------------------------------
// The rows
// ---------------------------------------------------------------------------

const poolRows = (kind: 'avgPool' | 'maxPool', f: typeof avgPool): Row[] => [
  row(`${kind}.size`, D.posInt, (v) => f({ size: v as number }), { use: layerWorks([6, 6, 2]) }),
  opt(`${kind}.stride`, D.posInt, (v) => f(w({ size: 2 }, 'stride')(v)), { use: layerWorks([6, 6, 2]) }),
  // Padding is at most half the window, as in PyTorch: with size 2, only 0 and 1.
  opt(`${kind}.padding`, (v) => D.nonNegInt(v) && (v as number) * 2 <= 2, (v) => f(w({ size: 2 }, 'padding')(v)), { use: layerWorks([6, 6, 2]) }),
  opt(`${kind}.ceilMode`, D.boolean, (v) => f(w({ size: 2 }, 'ceilMode')(v)), { use: layerWorks([5, 5, 2]) }),
];

const modelRows = (name: 'resNet' | 'resNet2' | 'plainNet', f: typeof resNet): Row[] => [
  row(`${name}.nIn`, D.posInt, (v) => f({ nIn: v as number, nClasses: 2, channels: [2] }), { use: (m, v) => layerWorks([8, 8, v as number])(m) }),
  row(`${name}.nClasses`, D.posInt, (v) => f({ nIn: 1, nClasses: v as number, channels: [2] }), { use: layerWorks([8, 8, 1]) }),
  opt(`${name}.firstStride`, D.posInt, (v) => f(w({ nIn: 1, nClasses: 2, channels: [2] }, 'firstStride')(v)), { use: layerWorks([8, 8, 1]) }),
  opt(`${name}.channels`, D.never, (v) => f(w({ nIn: 1, nClasses: 2 }, 'channels')(v)), { use: layerWorks([32, 32, 1]) }),
  row(`${name}.channels.0`, D.posInt, (v) => f({ nIn: 1, nClasses: 2, channels: [v as number] }), { use: layerWorks([8, 8, 1]) }),
];

const layerRows: Row[] = [
  ...(['nf', 'ni', 'ks', 'stride'] as const).map((k) =>
    (k === 'nf' ? row : opt)(`conv2d.${k}`, D.posInt, (v) => conv2d(k === 'nf' ? { nf: v as number } : w({ nf: 2 }, k)(v)), {
      use: (l: never, v: unknown) => layerWorks([7, 7, k === 'ni' ? (v as number ?? 2) : 2])(l),
    })
  ),
  opt('conv2d.padding', (v) => D.nonNegInt(v), (v) => conv2d(w({ nf: 2 }, 'padding')(v)), { use: layerWorks([6, 6, 1]) }),
  // An item of a union's tuple is reported at the union, with the whole tuple.
  row('conv2d.padding', D.nonNegInt, (v) => conv2d({ nf: 2, padding: [v as number, 1] }), { use: layerWorks([6, 6, 1]), shows: (v) => [[v, 1]] }),
  opt('conv2d.bias', D.boolean, (v) => conv2d(w({ nf: 2 }, 'bias')(v)), { use: layerWorks([6, 6, 1]) }),
  row('dense.nf', D.posInt, (v) => dense({ nf: v as number }), { use: layerWorks([4]) }),
  opt('dense.ni', D.posInt, (v) => dense(w({ nf: 2 }, 'ni')(v)), { use: (l: never, v: unknown) => layerWorks([v as number ?? 4])(l) }),
  opt('dense.bias', D.boolean, (v) => dense(w({ nf: 2 }, 'bias')(v)), { use: layerWorks([4]) }),
  // linear is dense, and says so.
  row('dense.nf', D.posInt, (v) => linear({ nf: v as number }), { use: layerWorks([4]) }),
  opt('batchNorm.eps', D.positive, (v) => batchNorm(w({}, 'eps')(v)), { use: layerWorks([4, 4, 3]) }),
  opt('batchNorm.momentum', D.unit, (v) => batchNorm(w({}, 'momentum')(v)), { use: layerWorks([4, 4, 3]) }),
  opt('batchNorm.init', D.never, (v) => batchNorm(w({}, 'init')(v)), { use: layerWorks([4, 4, 3]) }),
  ...poolRows('avgPool', avgPool),
  ...poolRows('maxPool', maxPool),
  row('dropout.rate', D.unit, (v) => dropout({ rate: v as number }), { use: layerWorks([6]) }),
  opt('leakyRelu.slope', D.finite, (v) => leakyRelu(v as number), { use: layerWorks([6]) }),
  row('pointwise.name', D.nonEmptyString, (v) => pointwise(v as string, (x) => tf.abs(x)), { use: layerWorks([6]) }),
  row('pointwise.fn', D.never, (v) => pointwise('f', v as never)),
  row('fanOut.n', D.posInt, (v) => fanOut(v as number), { use: layerWorks([3]) }),
  row('convLayer.ni', D.posInt, (v) => convLayer(v as number, 2), { use: (l: never, v: unknown) => layerWorks([6, 6, v as number])(l) }),
  row('convLayer.nf', D.posInt, (v) => convLayer(2, v as number), { use: layerWorks([6, 6, 2]) }),
  ...(['ks', 'stride'] as const).map((k) => opt(`convLayer.${k}`, D.posInt, (v) => convLayer(2, 3, w({}, k)(v)), { use: layerWorks([7, 7, 2]) })),
  opt('convLayer.act', D.never, (v) => convLayer(2, 3, w({}, 'act')(v)), { use: layerWorks([6, 6, 2]) }),
  opt('convLayer.bnInit', D.never, (v) => convLayer(2, 3, w({}, 'bnInit')(v)), { use: layerWorks([6, 6, 2]) }),
  opt('convLayer', D.never, (v) => convLayer(2, 3, v as never), { use: layerWorks([6, 6, 2]) }),
  row('resBlock.ni', D.posInt, (v) => resBlock(v as number, 2), { use: (l: never, v: unknown) => layerWorks([6, 6, v as number])(l) }),
  row('resBlock.nf', D.posInt, (v) => resBlock(2, v as number), { use: layerWorks([6, 6, 2]) }),
  opt('resBlock.stride', D.posInt, (v) => resBlock(2, 2, v as number), { use: layerWorks([6, 6, 2]) }),
  ...modelRows('resNet', resNet),
  ...modelRows('resNet2', resNet2),
  ...modelRows('plainNet', plainNet),
  row('serial.0', D.never, (v) => serial(v as never, identity), { names: 'serial: child 0' }),
  row('parallel.0', D.never, (v) => parallel(v as never, identity), { names: 'parallel: child 0' }),
  row('add.0', D.never, (v) => add(v as never, identity), { names: 'add: child 0' }),
  // A label is an identifier, not a property of every object.
  row('withKind.name', D.nonEmptyString, (v) => withKind(v as string, relu), { use: layerWorks([3]) }),
  row('withLabel.label', (v) => typeof v === 'string' && /^[A-Za-z_][\w-]*$/.test(v) && !(v in Object.prototype), (v) => withLabel(v as string, relu), {
    use: layerWorks([3]),
  }),
  opt('trainCtx.key', D.never, (v) => trainCtx(v as never)),
  // Initialisers and keys (a key is never a hostile value).
  ...(['kaimingNormal', 'kaimingUniform', 'torchDefaultUniform', 'xavierUniform'] as const).flatMap((name): Row[] => {
    const f = {
      kaimingNormal,
      kaimingUniform,
      torchDefaultUniform,
      xavierUniform: (k: Parameters<typeof xavierUniform>[0], s: readonly number[], n: number) => xavierUniform(k, s, n, 4),
    }[name];
    return [
      row(`${name}.fanIn`, D.positive, (v) => f(prngKey(0), [2, 2], v as number), { use: (t: tf.Tensor) => (finiteAll(t, name), t.dispose()) }),
      row(`${name}.shape.0`, D.nonNegInt, (v) => f(prngKey(0), [v as number, 2], 4), { use: (t: tf.Tensor) => (finiteAll(t, name), t.dispose()) }),
      row(`${name}.shape`, D.never, (v) => f(prngKey(0), v as never, 4)),
      row(`${name}.key`, D.never, (v) => f(v as never, [2], 4)),
    ];
  }),
  row('xavierUniform.fanOut', D.positive, (v) => xavierUniform(prngKey(0), [2, 2], 4, v as number), {
    use: (t: tf.Tensor) => (finiteAll(t, 'xavierUniform'), t.dispose()),
  }),
  row('prngKey.seed', D.safeInt, (v) => prngKey(v as number)),
  row('split.key', D.never, (v) => split(v as never, 2)),
  opt('split.n', D.posInt, (v) => split(prngKey(0), v as number), { use: (ks: number[][]) => assert.ok(ks.length >= 1) }),
  row('foldIn.key', D.never, (v) => foldIn(v as never, 1)),
  row('foldIn.data', D.safeInt, (v) => foldIn(prngKey(0), v as number)),
  row('uniform.key', D.never, (v) => uniform(v as never, 2)),
  row('uniform.count', D.nonNegInt, (v) => uniform(prngKey(0), v as number)),
  ...(['lo', 'hi'] as const).map((k) =>
    opt(`uniform.${k}`, D.finite, (v) => (k === 'lo' ? uniform(prngKey(0), 4, v as number, 5) : uniform(prngKey(0), 4, 0, v as number)), {
      use: (u: Float32Array) => assert.ok(u.every(Number.isFinite)),
    })
  ),
  row('normal.count', D.nonNegInt, (v) => normal(prngKey(0), v as number)),
  opt('normal.std', D.nonNegative, (v) => normal(prngKey(0), 4, v as number), { use: (u: Float32Array) => assert.ok(u.every(Number.isFinite)) }),
  row('permutation.n', D.nonNegInt, (v) => permutation(prngKey(0), v as number), {
    use: (p: Int32Array, v: unknown) => assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: v as number }, (_, i) => i)),
  }),
];

const rate = D.nonNegative;
const optimizerRows: Row[] = [
  ...(['sgd', 'momentum', 'rmsprop', 'adam', 'adamW'] as const).map((name) =>
    row(`${name}.lr`, rate, (v) => ({ sgd, momentum, rmsprop, adam, adamW })[name](v as number), { use: optimizerWorks })
  ),
  opt('momentum.momentum', D.unit, (v) => momentum(0.1, w({}, 'momentum')(v)), { use: optimizerWorks }),
  opt('momentum.nesterov', D.boolean, (v) => momentum(0.1, w({}, 'nesterov')(v)), { use: optimizerWorks }),
  opt('rmsprop.decay', D.unit, (v) => rmsprop(0.1, w({}, 'decay')(v)), { use: optimizerWorks }),
  opt('rmsprop.eps', D.nonNegative, (v) => rmsprop(0.1, w({}, 'eps')(v)), { use: optimizerWorks }),
  ...(['adam', 'adamW', 'scaleByAdam'] as const).flatMap((name): Row[] => {
    const make = (o: never) => (name === 'scaleByAdam' ? scaleByAdam(o) : ({ adam, adamW })[name](0.1, o));
    return [
      opt(`${name}.b1`, D.unit, (v) => make(w({}, 'b1')(v)), { use: optimizerWorks }),
      opt(`${name}.b2`, D.unit, (v) => make(w({}, 'b2')(v)), { use: optimizerWorks }),
      opt(`${name}.eps`, D.nonNegative, (v) => make(w({}, 'eps')(v)), { use: optimizerWorks }),
      opt(`${name}.epsRoot`, D.nonNegative, (v) => make(w({}, 'epsRoot')(v)), { use: optimizerWorks }),
    ];
  }),
  opt('adamW.weightDecay', rate, (v) => adamW(0.1, w({}, 'weightDecay')(v)), { use: optimizerWorks }),
  opt('adamW.mask', D.never, (v) => adamW(0.1, w({}, 'mask')(v)), { use: optimizerWorks }),
  opt('adam', D.never, (v) => adam(0.1, v as never), { use: optimizerWorks }),
  row('scaleByLearningRate.lr', rate, (v) => scaleByLearningRate(v as number), { use: optimizerWorks }),
  row('scale.factor', D.finite, (v) => scale(v as number), { use: optimizerWorks }),
  opt('scaleByRms.decay', D.unit, (v) => scaleByRms(w({}, 'decay')(v)), { use: optimizerWorks }),
  opt('scaleByRms.eps', D.nonNegative, (v) => scaleByRms(w({}, 'eps')(v)), { use: optimizerWorks }),
  opt('trace.decay', D.unit, (v) => trace(w({}, 'decay')(v)), { use: optimizerWorks }),
  opt('trace.nesterov', D.boolean, (v) => trace(w({}, 'nesterov')(v)), { use: optimizerWorks }),
  row('addDecayedWeights.weightDecay', rate, (v) => addDecayedWeights(v as number), { use: optimizerWorks }),
  row('clipByGlobalNorm.maxNorm', D.positive, (v) => clipByGlobalNorm(v as number), { use: optimizerWorks }),
  row('masked.inner', D.never, (v) => masked(v as never, () => true)),
  row('masked.mask', D.never, (v) => masked(addDecayedWeights(0.1), v as never)),
  row('chain.0', D.never, (v) => chain(v as never, sgd(0.1))),
  row('tidyTransformation.t', D.never, (v) => tidyTransformation(v as never)),
  row('hyperAt.h', D.finite, (v) => hyperAt(v as number, 0), { use: (r: number) => assert.ok(Number.isFinite(r)) }),
  row('hyperAt.step', D.nonNegInt, (v) => hyperAt((s) => s + 1, v as number)),
];

const scheduleRows: Row[] = [
  ...(['schedLin', 'schedCos'] as const).flatMap((name) => {
    const f = { schedLin, schedCos }[name];
    return [
      row(`${name}.start`, D.finite, (v) => f(v as number, 1), { use: schedWorks }),
      row(`${name}.end`, D.finite, (v) => f(1, v as number), { use: schedWorks }),
    ];
  }),
  row('schedExp.start', D.positive, (v) => schedExp(v as number, 1), { use: schedWorks }),
  row('schedExp.end', D.positive, (v) => schedExp(1, v as number), { use: schedWorks }),
  row('schedNo.start', D.finite, (v) => schedNo(v as number), { use: schedWorks }),
  // fastai's SchedNo takes an end and ignores it; given, it is still a number.
  opt('schedNo.end', D.finite, (v) => schedNo(1, v as number), { use: schedWorks }),
  // The fractions must sum to 1: with 0.5 beside it, only 0.5 is valid.
  row('combineScheds.pcts', D.is(0.5), (v) => combineScheds([v as number, 0.5], [schedNo(1), schedNo(2)]), { use: schedWorks, shows: (v) => [v, [v, 0.5]] }),
  row('combineScheds.pcts', D.never, (v) => combineScheds(v as never, [schedNo(1)])),
  row('combineScheds.scheds.0', D.never, (v) => combineScheds([0.5, 0.5], [v as never, schedNo(2)])),
  row('combinedCos.pct', D.fraction, (v) => combinedCos(v as number, 0, 1, 0), { use: schedWorks }),
  ...(['start', 'middle', 'end'] as const).map((k, i) =>
    row(`combinedCos.${k}`, D.finite, (v) => combinedCos(0.5, ...([0, 1, 0].map((x, j) => (j === i ? v : x)) as [number, number, number])), { use: schedWorks })
  ),
  row('oneCycle.lrMax', D.positive, (v) => oneCycle({ lrMax: v as number }), { use: (r: { lr: never; mom: never }) => (schedWorks(r.lr), schedWorks(r.mom)) }),
  ...(['div', 'divFinal'] as const).map((k) =>
    opt(`oneCycle.${k}`, D.positive, (v) => oneCycle(w({ lrMax: 1e-3 }, k)(v)), { use: (r: { lr: never }) => schedWorks(r.lr) })
  ),
  opt('oneCycle.pctStart', D.fraction, (v) => oneCycle(w({ lrMax: 1e-3 }, 'pctStart')(v)), { use: (r: { lr: never }) => schedWorks(r.lr) }),
  opt('oneCycle.moms', D.never, (v) => oneCycle(w({ lrMax: 1e-3 }, 'moms')(v)), { use: (r: { mom: never }) => schedWorks(r.mom) }),
  ...[0, 1, 2].map((i) =>
    row(`oneCycle.moms.${i}`, D.unit, (v) => oneCycle({ lrMax: 1e-3, moms: [0.9, 0.9, 0.9].map((m, j) => (j === i ? v : m)) as never }), {
      use: (r: { mom: never }) => schedWorks(r.mom),
    })
  ),
  row('flatCos.lr', D.finite, (v) => flatCos(v as number), { use: schedWorks }),
  opt('flatCos.pctStart', D.fraction, (v) => flatCos(1e-3, v as number), { use: schedWorks }),
  row('warmup.pct', D.fraction, (v) => warmup(v as number, schedNo(1)), { use: schedWorks }),
  row('warmup.after', D.never, (v) => warmup(0.1, v as never)),
  row('perStep.sched', D.never, (v) => perStep(v as never, 10)),
  row('perStep.totalSteps', D.posInt, (v) => perStep(schedNo(1), v as number), { use: (s: (n: number) => number) => assert.ok(Number.isFinite(s(1))) }),
];

const lossRows: Row[] = [
  opt('crossEntropy.labelSmoothing', D.unit, (v) => crossEntropyWith(w({}, 'labelSmoothing')(v)), {
    use: (loss: typeof crossEntropy) => tf.tidy(() => finiteAll(loss(tf.tensor2d([[1, 2], [3, 0]]), tf.tensor1d([1, 0], 'int32')), 'loss')),
  }),
  opt('crossEntropy', D.never, (v) => crossEntropyWith(v as never)),
  row('runningMean.add.weight', D.nonNegative, (v) => runningMean().add(0.5, v as number)),
];

const base = { batchSize: 2 };
const dataRows: Row[] = [
  row('dataLoader.batchSize', D.posInt, (v) => dataLoader(ds, { batchSize: v as number }), { use: loaderWorks }),
  ...(['shuffle', 'dropLast', 'flip'] as const).map((k) => opt(`dataLoader.${k}`, D.boolean, (v) => dataLoader(ds, w(base, k)(v)), { use: loaderWorks })),
  opt('dataLoader.key', D.never, (v) => dataLoader(ds, w(base, 'key')(v)), { use: loaderWorks }),
  opt('dataLoader.scale', D.finite, (v) => dataLoader(ds, w(base, 'scale')(v)), { use: loaderWorks }),
  opt('dataLoader.normalize', D.never, (v) => dataLoader(ds, w(base, 'normalize')(v)), { use: loaderWorks }),
  row('dataLoader.normalize.mean.0', D.finite, (v) => dataLoader(ds, { ...base, normalize: { mean: [v as number], std: [1] } }), { use: loaderWorks }),
  row('dataLoader.normalize.std.0', D.positive, (v) => dataLoader(ds, { ...base, normalize: { mean: [0], std: [v as number] } }), { use: loaderWorks }),
  opt('dataLoader.padCrop', D.nonNegInt, (v) => dataLoader(ds, w(base, 'padCrop')(v)), { use: loaderWorks }),
  opt('dataLoader.limit', D.posInt, (v) => dataLoader(ds, w(base, 'limit')(v)), { use: loaderWorks }),
  // The toy labels go up to maxLabel: a smaller class count is refused by the label check, naming the label.
  opt('dataLoader.nClasses', (v) => D.posInt(v) && (v as number) > maxLabel, (v) => dataLoader(ds, w(base, 'nClasses')(v)), {
    use: (l: ReturnType<typeof dataLoader>, v: unknown) => assert.equal(l.nClasses, v),
  }),
  row('dataLoader', D.never, (v) => dataLoader(ds, v as never)),
  row('dataLoader.batches.epoch', D.nonNegInt, (v) => [...dataLoader(ds, base).batches(v as number)].forEach((b) => tf.dispose([b.x, b.y]))),
  opt('channelStats.scale', D.finite, (v) => channelStats(ds, v as number), { use: (s: { mean: number[] }) => assert.ok(s.mean.every(Number.isFinite)) }),
  opt('parseIdx.expectedRank', (v) => D.posInt(v) && (v as number) <= 255, (v) => parseIdx('f', idxFile, v as number)),
  opt('parseIdx.maxBytes', D.posInt, (v) => parseIdx('f', idxFile, 2, v as number)),
  row('encodeIdx.dims', D.is(3), (v) => encodeIdx([v as number], new Uint8Array(3)), { shows: (v) => [v, [v]] }),
  row('readFashionMnist.dir', D.string, (v) => readFashionMnist(under(tmp())(v) as string)),
  ...(['dir', 'cacheDir'] as const).map((k) =>
    opt(`loadFashionMnist.${k}`, D.string, (v) => loadFashionMnist({ download: false, ...(k === 'dir' ? {} : { dir: fakeFashion }), [k]: under(tmp())(v) }))
  ),
  opt('loadFashionMnist.download', D.boolean, (v) => loadFashionMnist(w({ dir: fakeFashion }, 'download')(v))),
  // A mirror is an http(s) URL: 'x' and '2' are not.
  opt('loadFashionMnist.mirror', D.never, (v) => loadFashionMnist(w({ dir: fakeFashion }, 'mirror')(v))),
  row('downloadFashionMnist.mirror', D.never, async (v) => (await import('../src/data/fashion_mnist.ts')).downloadFashionMnist(v as string, tmp())),
  ...[0, 1].map((i) =>
    row(
      `loadImageFolder.size.${i}`,
      (v) => D.posInt(v) && (v as number) <= 4096,
      (v) => loadImageFolder('/nonexistent', { size: (i === 0 ? [v, 8] : [8, v]) as never }),
      {
        expected: isDatasetError,
      },
    )
  ),
  row('loadImageFolder.size', D.never, (v) => loadImageFolder('/nonexistent', { size: v as never })),
  opt('loadImageFolder.channels', D.is(1, 3), (v) => loadImageFolder('/nonexistent', w({ size: [8, 8] }, 'channels')(v)), { expected: isDatasetError }),
  ...[0, 1].map((i) =>
    row(
      `loadImageFolder.splits.${i}`,
      D.string,
      (v) => loadImageFolder('/nonexistent', { size: [8, 8], splits: (i === 0 ? [v, 'val'] : ['train', v]) as never }),
      {
        expected: isDatasetError,
      },
    )
  ),
  row('loadImageFolder.root', D.string, (v) => loadImageFolder(under('/nonexistent')(v) as string, { size: [8, 8] }), { expected: isDatasetError }),
];

const model = toyModel();
const data = toyData(8, 4);
const trained = initTrainState(model, sgd(0.1), prngKey(0), [8, 8, 1]);
after(() => disposeTrainState(trained));
const loopRows: Row[] = [
  row('fit.epochs', D.posInt, (v) => fit(model, data, { ...fast, opt: sgd(0.1), epochs: v as number })),
  opt('fit.maxSteps', D.nonNegInt, (v) => fit(model, data, { observers: [], opt: sgd(0.1), epochs: 1, maxSteps: v as number })),
  row('fit.opt', D.never, (v) => fit(model, data, { ...fast, epochs: 1, opt: v as never })),
  ...(['loss', 'metrics', 'trainState', 'key', 'observers', 'callbacks', 'step'] as const).map((k) =>
    opt(`fit.${k}`, D.never, (v) => fit(model, data, w({ ...fast, epochs: 1, opt: sgd(0.1) }, k)(v)))
  ),
  row('fitOneCycle.epochs', D.posInt, (v) => fitOneCycle(model, data, { ...fast, lrMax: 1e-3, epochs: v as number })),
  row('fitOneCycle.lrMax', D.positive, (v) => fitOneCycle(model, data, { ...fast, epochs: 1, lrMax: v as number })),
  opt('fitOneCycle.weightDecay', D.nonNegative, (v) => fitOneCycle(model, data, w({ ...fast, epochs: 1, lrMax: 1e-3 }, 'weightDecay')(v))),
  opt('fitOneCycle.pctStart', D.fraction, (v) => fitOneCycle(model, data, w({ ...fast, epochs: 1, lrMax: 1e-3 }, 'pctStart')(v))),
  ...(['div', 'divFinal'] as const).map((k) =>
    opt(`fitOneCycle.${k}`, D.positive, (v) => fitOneCycle(model, data, w({ ...fast, epochs: 1, lrMax: 1e-3 }, k)(v)))
  ),
  row('fitOneCycle.moms.1', D.unit, (v) => fitOneCycle(model, data, { ...fast, epochs: 1, lrMax: 1e-3, moms: [0.9, v as number, 0.9] })),
  opt('fitOneCycle.makeOpt', D.never, (v) => fitOneCycle(model, data, w({ ...fast, epochs: 1, lrMax: 1e-3 }, 'makeOpt')(v))),
  opt('fitOneCycle.maxSteps', D.nonNegInt, (v) => fitOneCycle(model, data, { observers: [], epochs: 1, lrMax: 1e-3, maxSteps: v as number })),
  // lrFind needs two steps at least, to have a curve.
  opt('lrFind.numIt', (v) => D.posInt(v) && (v as number) >= 2, (v) => lrFind(model, data.train, { numIt: v as number })),
  opt('lrFind.startLr', D.positive, (v) => lrFind(model, data.train, { numIt: 2, startLr: v as number, endLr: 1e6 })),
  opt('lrFind.endLr', D.positive, (v) => lrFind(model, data.train, { numIt: 2, startLr: 1e-9, endLr: v as number })),
  opt('lrFind.stopDiv', D.boolean, (v) => lrFind(model, data.train, w({ numIt: 2 }, 'stopDiv')(v))),
  ...(['loss', 'makeOpt', 'from', 'key'] as const).map((k) => opt(`lrFind.${k}`, D.never, (v) => lrFind(model, data.train, w({ numIt: 2 }, k)(v)))),
  row('saveCheckpoints.path', D.nonEmptyString, (v) => saveCheckpoints({ path: v as string })),
  opt('saveCheckpoints.mode', D.never, (v) => saveCheckpoints(w({ path: 'x' }, 'mode')(v))),
  opt('saveCheckpoints.monitor', D.string, (v) => saveCheckpoints(w({ path: 'x' }, 'monitor')(v))),
  // The config is saved as JSON: NaN and ±Infinity are not JSON (they would come back as null).
  opt(
    'saveCheckpoints.config',
    (v) => v !== undefined && !(typeof v === 'number' && !Number.isFinite(v)),
    (v) => saveCheckpoints(w({ path: 'x' }, 'config')(v)),
  ),
  row('dataParallel.workers', (v) => D.posInt(v) && (v as number) <= 64, (v) => dataParallel({ workers: v as number, spec: { module: 'm', export: 'e' } })),
  row('dataParallel.spec', D.never, (v) => dataParallel({ workers: 2, spec: v as never })),
  opt('dataParallel.lossSpec', D.never, (v) => dataParallel(w({ workers: 2, spec: { module: 'm', export: 'e' } }, 'lossSpec')(v))),
  opt('epochTable.progress', D.boolean, (v) => epochTable(w({}, 'progress')(v))),
  opt('epochTable.out', D.never, (v) => epochTable(w({}, 'out')(v))),
  row('jsonLog.file', D.nonEmptyString, (v) => jsonLog(v as string)),
  opt('jsonLog.batches', D.boolean, (v) => jsonLog(path.join(tmp(), 'log.jsonl'), w({}, 'batches')(v))),
  row('initTrainState.key', D.never, (v) => initTrainState(model, sgd(0.1), v as never, [8, 8, 1])),
  row('initTrainState.opt', D.never, (v) => initTrainState(model, v as never, prngKey(0), [8, 8, 1])),
  row('trainStep.loss', D.never, (v) => trainStep(model, v as never, sgd(0.1))),
  row('trainStep.opt', D.never, (v) => trainStep(model, crossEntropy, v as never)),
  row('evalStep.metrics', D.never, (v) => evalStep(model, crossEntropy, v as never)),
  opt('evaluate.metrics', D.never, (v) => evaluate(model, trained, data.valid!, crossEntropy, v as never)),
  opt('evaluate.loss', D.never, (v) => evaluate(model, trained, data.valid!, v as never)),
];

// ---------------------------------------------------------------------------
// Running the rows
// ---------------------------------------------------------------------------

type Outcome = { ok: true; result: unknown } | { ok: false; error: unknown };
const outcome = async (f: () => unknown): Promise<Outcome> => {
  try {
    return { ok: true, result: await f() };
  } catch (error) {
    return { ok: false, error };
  }
};
const describeError = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : `a thrown ${showValue(e)}`);
/** The message names the field: `field:` or a sub-path `field.x:`. */
const namesField = (m: string, field: string) => m.includes(`${field}:`) || m.includes(`${field}.`);

const counts = { cases: 0, refused: 0, accepted: 0, acceptedWithDocumentedError: 0 };
const failures: string[] = [];
const fail = (_field: string, text: string) => failures.push(text);

const runRows = async (rows: readonly Row[]) => {
  for (const r of rows) {
    for (const v of HOSTILE) {
      counts.cases++;
      const valid = v === undefined ? Boolean(r.optional) : r.valid(v);
      const shown = `${r.field} = ${showValue(v)}`;
      const got = await outcome(() => r.call(v));
      if (!valid) {
        const m = got.ok ? '' : got.error instanceof Error ? got.error.message : '';
        const displays = (r.shows?.(v) ?? [v]).map((d) => `got ${showValue(d)}`);
        if (got.ok) fail(r.field, `${shown}: accepted, but the value is outside the field's domain`);
        else if (!(got.error instanceof ConfigError)) fail(r.field, `${shown}: expected a ConfigError, got ${describeError(got.error)}`);
        else if (r.names ? !m.includes(r.names) : !namesField(m, r.field)) fail(r.field, `${shown}: the message does not name ${r.field}: ${m}`);
        else if (!displays.some((d) => m.includes(d))) fail(r.field, `${shown}: the message does not show the value: ${m}`);
        else if (v !== null && /got null/.test(m)) fail(r.field, `${shown}: shown as null: ${m}`);
        else counts.refused++;
        continue;
      }
      if (!got.ok) {
        if (r.expected?.(got.error)) counts.acceptedWithDocumentedError++;
        else fail(r.field, `${shown}: valid, but ${describeError(got.error)}`);
        continue;
      }
      const used = await outcome(() => r.use?.(got.result as never, v));
      if (!used.ok) fail(r.field, `${shown}: valid and accepted, but the result does not work: ${describeError(used.error)}`);
      else counts.accepted++;
    }
  }
};

const check = (group: string) => {
  const mine = failures.splice(0);
  assert.deepEqual(mine, [], `${group}: ${mine.length} cases failed:\n${mine.join('\n')}`);
};

describe('fuzz: every option of every public factory, each hostile value', { timeout: 300_000 }, () => {
  test('layers, blocks, combinators, initialisers and keys', async () => {
    await runRows(layerRows);
    check('layers');
  });
  test('optimizers and transforms', async () => {
    await runRows(optimizerRows);
    check('optimizers');
  });
  test('schedules', async () => {
    await runRows(scheduleRows);
    check('schedules');
  });
  test('losses and metrics', async () => {
    await runRows(lossRows);
    check('losses');
  });
  test('data: the loader, IDX files, Fashion-MNIST and image folders', async () => {
    const saved = process.env.FASHION_MNIST_DIR;
    // Strings given as a folder that does not exist fall through to FASHION_MNIST_DIR: point it at the tiny fake, not the real set.
    process.env.FASHION_MNIST_DIR = fakeFashion;
    try {
      await runRows(dataRows);
    } finally {
      if (saved === undefined) delete process.env.FASHION_MNIST_DIR;
      else process.env.FASHION_MNIST_DIR = saved;
    }
    check('data');
  });
  test('fit, fitOneCycle, lrFind, checkpoints, threads and observers', async () => {
    await runRows(loopRows);
    check('loop');
  });

  test('absurd sizes are refused before allocating, naming the field', async () => {
    const absurd: readonly (readonly [field: string, call: () => unknown])[] = [
      ['conv2d.nf', () => conv2d({ nf: 1e9, ni: 4 })],
      ['conv2d.ks', () => conv2d({ nf: 2, ks: 1e5 })],
      ['dense.nf', () => dense({ nf: 1e12 })],
      ['resNet.channels.0', () => resNet({ nIn: 1e5, nClasses: 2, channels: [1e5] })],
      ['kaimingNormal.shape', () => kaimingNormal(prngKey(0), [1e6, 1e6], 4)],
      ['uniform.count', () => uniform(prngKey(0), 1e12)],
      ['normal.count', () => normal(prngKey(0), 2 ** 40)],
      ['permutation.n', () => permutation(prngKey(0), 1e12)],
      ['split.n', () => split(prngKey(0), 1e12)],
      ['fanOut.n', () => fanOut(1e12).init(prngKey(0), [2])],
      ['loadImageFolder.size.0', () => loadImageFolder('/nonexistent', { size: [1e6, 1e6] })],
      ['dataParallel.workers', () => dataParallel({ workers: 1e6, spec: { module: 'm', export: 'e' } })],
      ['encodeIdx.dims.0', () => encodeIdx([2 ** 33], new Uint8Array(0))],
    ];
    for (const [field, call] of absurd) {
      counts.cases++;
      const before = tf.memory().numTensors;
      const got = await outcome(call);
      if (got.ok) fail(field, `${field}: an absurd size was accepted`);
      else if (!(got.error instanceof ConfigError) || !namesField(got.error.message, field)) fail(field, `${field}: ${describeError(got.error)}`);
      else counts.refused++;
      assert.equal(tf.memory().numTensors, before, `${field}: tensors allocated before refusing`);
    }
    check('absurd sizes');
    const rows = [layerRows, optimizerRows, scheduleRows, lossRows, dataRows, loopRows].reduce((n, r) => n + r.length, 0);
    console.log(
      `options fuzz: ${rows} fields, ${counts.cases} cases: ${counts.refused} refused with a ConfigError naming the field, ` +
        `${counts.accepted} valid and working, ${counts.acceptedWithDocumentedError} valid and ending in a documented DatasetError`,
    );
  });
});
