/**
 * Every public factory rejects an unknown or ill-typed option with a
 * ConfigError naming `owner.field` and showing the value, and accepts every
 * value in the option's documented domain. One table, one row per option.
 */
import './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adam,
  adamW,
  add,
  addDecayedWeights,
  avgPool,
  batchNorm,
  channelStats,
  clipByGlobalNorm,
  combinedCos,
  combineScheds,
  ConfigError,
  conv2d,
  convLayer,
  crossEntropyWith,
  dataLoader,
  dense,
  dropout,
  fanOut,
  fit,
  fitOneCycle,
  flatCos,
  leakyRelu,
  lrFind,
  maxPool,
  momentum,
  oneCycle,
  perStep,
  pointwise,
  prngKey,
  resBlock,
  resNet,
  rmsprop,
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
  trace,
  warmup,
} from '../mod.ts';
import { dataParallel, loadFashionMnist, loadImageFolder, saveCheckpoints } from '../node.ts';
import * as tf from '@tensorflow/tfjs-core';
import { showValue } from '../src/config.ts';
import { toyData, toyDataset, toyModel } from './fixtures/toy.ts';

/** The documented domains. */
const domain = {
  positiveInt: (v: unknown) => Number.isInteger(v) && (v as number) >= 1,
  nonNegativeInt: (v: unknown) => Number.isInteger(v) && (v as number) >= 0,
  positive: (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0,
  nonNegative: (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  unit: (v: unknown) => typeof v === 'number' && v >= 0 && v < 1,
  fraction: (v: unknown) => typeof v === 'number' && v >= 0 && v <= 1,
  finite: (v: unknown) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v: unknown) => typeof v === 'boolean',
};
type Domain = keyof typeof domain;

/** A row: the message's `owner.field`, its domain, and a call with that one value in place. */
type Row = readonly [field: string, domain: Domain, call: (v: unknown) => unknown];

const HOSTILE: readonly unknown[] = [NaN, Infinity, -Infinity, 'x', 0, -1, 1.5, 3, null];
const ds = toyDataset(8);
const fast = { observers: [], maxSteps: 0 } as const;
const opts = <T>(base: T, field: string) => (v: unknown) => ({ ...base, [field]: v }) as never;

const layerRows: Row[] = [
  ...(['nf', 'ni', 'ks', 'stride'] as const).map((f): Row => [`conv2d.${f}`, 'positiveInt', (v) => conv2d(opts({ nf: 2 }, f)(v))]),
  ['conv2d.padding', 'nonNegativeInt', (v) => conv2d(opts({ nf: 2 }, 'padding')(v))],
  ['conv2d.bias', 'boolean', (v) => conv2d(opts({ nf: 2 }, 'bias')(v))],
  ...(['nf', 'ni'] as const).map((f): Row => [`dense.${f}`, 'positiveInt', (v) => dense(opts({ nf: 2 }, f)(v))]),
  ['batchNorm.eps', 'positive', (v) => batchNorm(opts({}, 'eps')(v))],
  ['batchNorm.momentum', 'unit', (v) => batchNorm(opts({}, 'momentum')(v))],
  ...(['size', 'stride'] as const).flatMap((f): Row[] => [
    [`avgPool.${f}`, 'positiveInt', (v) => avgPool(opts({ size: 2 }, f)(v))],
    [`maxPool.${f}`, 'positiveInt', (v) => maxPool(opts({ size: 2 }, f)(v))],
  ]),
  ['avgPool.ceilMode', 'boolean', (v) => avgPool(opts({ size: 2 }, 'ceilMode')(v))],
  ['dropout.rate', 'unit', (v) => dropout(opts({}, 'rate')(v))],
  ['leakyRelu.slope', 'finite', (v) => leakyRelu(v as number)],
  ['fanOut.n', 'positiveInt', (v) => fanOut(v as number)],
  ['convLayer.ni', 'positiveInt', (v) => convLayer(v as number, 2)],
  ['convLayer.nf', 'positiveInt', (v) => convLayer(2, v as number)],
  ...(['ks', 'stride'] as const).map((f): Row => [`convLayer.${f}`, 'positiveInt', (v) => convLayer(2, 3, opts({}, f)(v))]),
  ['resBlock.ni', 'positiveInt', (v) => resBlock(v as number, 2, 1)],
  ['resBlock.nf', 'positiveInt', (v) => resBlock(2, v as number, 1)],
  ['resBlock.stride', 'positiveInt', (v) => resBlock(2, 2, v as number)],
  ...(['nIn', 'nClasses', 'firstStride'] as const).map((f): Row => [`resNet.${f}`, 'positiveInt', (v) => resNet(opts({ nIn: 1, nClasses: 2 }, f)(v))]),
];

const optimizerRows: Row[] = [
  ...(['sgd', 'momentum', 'rmsprop', 'adam', 'adamW'] as const).map((name): Row => [
    `${name}.lr`,
    'nonNegative',
    (v) => ({ sgd, momentum, rmsprop, adam, adamW })[name](v as number),
  ]),
  ['momentum.momentum', 'unit', (v) => momentum(0.1, opts({}, 'momentum')(v))],
  ['momentum.nesterov', 'boolean', (v) => momentum(0.1, opts({}, 'nesterov')(v))],
  ['rmsprop.decay', 'unit', (v) => rmsprop(0.1, opts({}, 'decay')(v))],
  ['rmsprop.eps', 'nonNegative', (v) => rmsprop(0.1, opts({}, 'eps')(v))],
  ...(['adam', 'adamW'] as const).flatMap((name): Row[] => [
    [`${name}.b1`, 'unit', (v) => ({ adam, adamW })[name](0.1, opts({}, 'b1')(v))],
    [`${name}.b2`, 'unit', (v) => ({ adam, adamW })[name](0.1, opts({}, 'b2')(v))],
    [`${name}.eps`, 'nonNegative', (v) => ({ adam, adamW })[name](0.1, opts({}, 'eps')(v))],
    [`${name}.epsRoot`, 'nonNegative', (v) => ({ adam, adamW })[name](0.1, opts({}, 'epsRoot')(v))],
  ]),
  ['adamW.weightDecay', 'nonNegative', (v) => adamW(0.1, opts({}, 'weightDecay')(v))],
  ['scaleByLearningRate.lr', 'nonNegative', (v) => scaleByLearningRate(v as number)],
  ['addDecayedWeights.weightDecay', 'nonNegative', (v) => addDecayedWeights(v as number)],
  ['clipByGlobalNorm.maxNorm', 'positive', (v) => clipByGlobalNorm(v as number)],
  ['scale.factor', 'finite', (v) => scale(v as number)],
  ['scaleByAdam.b1', 'unit', (v) => scaleByAdam(opts({}, 'b1')(v))],
  ['scaleByRms.decay', 'unit', (v) => scaleByRms(opts({}, 'decay')(v))],
  ['trace.decay', 'unit', (v) => trace(opts({}, 'decay')(v))],
];

const scheduleRows: Row[] = [
  ['oneCycle.lrMax', 'positive', (v) => oneCycle(opts({}, 'lrMax')(v))],
  ...(['div', 'divFinal'] as const).map((f): Row => [`oneCycle.${f}`, 'positive', (v) => oneCycle(opts({ lrMax: 1e-3 }, f)(v))]),
  ['oneCycle.pctStart', 'fraction', (v) => oneCycle(opts({ lrMax: 1e-3 }, 'pctStart')(v))],
  ...(['start', 'end'] as const).flatMap((f): Row[] => [
    [`schedLin.${f}`, 'finite', (v) => (f === 'start' ? schedLin(v as number, 1) : schedLin(1, v as number))],
    [`schedCos.${f}`, 'finite', (v) => (f === 'start' ? schedCos(v as number, 1) : schedCos(1, v as number))],
    [`schedExp.${f}`, 'positive', (v) => (f === 'start' ? schedExp(v as number, 1) : schedExp(1, v as number))],
  ]),
  ['schedNo.start', 'finite', (v) => schedNo(v as number)],
  ['flatCos.lr', 'finite', (v) => flatCos(v as number)],
  ['flatCos.pctStart', 'fraction', (v) => flatCos(1e-3, v as number)],
  ['warmup.pct', 'fraction', (v) => warmup(v as number, schedNo(1))],
  ['perStep.totalSteps', 'positiveInt', (v) => perStep(schedNo(1), v as number)],
];

const dataAndLoopRows: Row[] = [
  ...(['batchSize', 'limit'] as const).map((f): Row => [`dataLoader.${f}`, 'positiveInt', (v) => dataLoader(ds, opts({ batchSize: 2 }, f)(v))]),
  ['dataLoader.padCrop', 'nonNegativeInt', (v) => dataLoader(ds, opts({ batchSize: 2 }, 'padCrop')(v))],
  ['dataLoader.scale', 'finite', (v) => dataLoader(ds, opts({ batchSize: 2 }, 'scale')(v))],
  ...(['shuffle', 'dropLast', 'flip'] as const).map((f): Row => [`dataLoader.${f}`, 'boolean', (v) => dataLoader(ds, opts({ batchSize: 2 }, f)(v))]),
  ['fit.epochs', 'positiveInt', (v) => fit(toyModel(), toyData(8), { ...fast, opt: sgd(0.1), epochs: v as number })],
  ['fit.maxSteps', 'nonNegativeInt', (v) => fit(toyModel(), toyData(8), { observers: [], opt: sgd(0.1), epochs: 1, maxSteps: v as number })],
  ['fitOneCycle.lrMax', 'positive', (v) => fitOneCycle(toyModel(), toyData(8), { ...fast, epochs: 1, lrMax: v as number })],
  ['fitOneCycle.weightDecay', 'nonNegative', (v) => fitOneCycle(toyModel(), toyData(8), { ...fast, epochs: 1, lrMax: 1e-3, weightDecay: v as number })],
  ['fitOneCycle.pctStart', 'fraction', (v) => fitOneCycle(toyModel(), toyData(8), { ...fast, epochs: 1, lrMax: 1e-3, pctStart: v as number })],
  ['lrFind.numIt', 'positiveInt', (v) => lrFind(toyModel(), toyData(8).train, { numIt: v as number, startLr: 1e-3, endLr: 1e-2 })],
  ['lrFind.startLr', 'positive', (v) => lrFind(toyModel(), toyData(8).train, { numIt: 2, startLr: v as number, endLr: 1e6 })],
  ['dataParallel.workers', 'positiveInt', (v) => dataParallel({ workers: v as number, spec: { module: 'm', export: 'e' } })],
  ['loadImageFolder.channels', 'positiveInt', (v) => loadImageFolder('/nonexistent', opts({ size: [8, 8] }, 'channels')(v))],
];

/** Run `call(v)`; the ConfigError it throws or rejects with, if any. */
const configErrorOf = async (call: () => unknown): Promise<ConfigError | undefined> => {
  try {
    await call();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    return undefined; // another error (a missing folder, a shape): the options themselves were accepted
  }
  return undefined;
};

let cases = 0;
const runRows = async (rows: readonly Row[]) => {
  for (const [field, dom, call] of rows) {
    for (const v of HOSTILE) {
      // loadImageFolder's channels are 1 or 3 only, and lrFind needs at least 2 steps: narrower than their base domain.
      const valid = domain[dom](v) && !(field === 'loadImageFolder.channels' && v !== 1 && v !== 3) && !(field === 'lrFind.numIt' && v === 1);
      const e = await configErrorOf(() => call(v));
      cases++;
      if (valid) assert.equal(e, undefined, `${field} = ${showValue(v)} is valid, but: ${e?.message}`);
      else {
        assert.ok(e, `${field} = ${showValue(v)}: expected a ConfigError`);
        assert.ok(e.message.includes(field), `${field} = ${showValue(v)}: the message does not name the field: ${e.message}`);
        assert.ok(e.message.includes(`got ${showValue(v)}`), `${field} = ${showValue(v)}: the message does not show the value: ${e.message}`);
      }
    }
  }
};

describe('every public factory checks every option', () => {
  test('layers and blocks', async () => await runRows(layerRows));
  test('optimizers', async () => await runRows(optimizerRows));
  test('schedules', async () => await runRows(scheduleRows));
  test('the loader, fit, fitOneCycle, lrFind and the image-folder reader', async () => await runRows(dataAndLoopRows));

  test('unknown option names are refused everywhere, by name', async () => {
    const unknown: [string, () => unknown][] = [
      ['conv2d', () => conv2d({ nf: 2, bogus: 1 } as never)],
      ['dense', () => dense({ nf: 2, bogus: 1 } as never)],
      ['batchNorm', () => batchNorm({ bogus: 1 } as never)],
      ['avgPool', () => avgPool({ size: 2, bogus: 1 } as never)],
      ['dropout', () => dropout({ rate: 0.1, bogus: 1 } as never)],
      ['convLayer', () => convLayer(2, 3, { bogus: 1 } as never)],
      ['resNet', () => resNet({ nIn: 1, nClasses: 2, bogus: 1 } as never)],
      ['momentum', () => momentum(0.1, { bogus: 1 } as never)],
      ['rmsprop', () => rmsprop(0.1, { bogus: 1 } as never)],
      ['adam', () => adam(0.1, { bogus: 1 } as never)],
      ['adamW', () => adamW(0.1, { weightDecy: 0.1 } as never)],
      ['scaleByAdam', () => scaleByAdam({ bogus: 1 } as never)],
      ['trace', () => trace({ bogus: 1 } as never)],
      ['oneCycle', () => oneCycle({ lrMax: 1e-3, bogus: 1 } as never)],
      ['dataLoader', () => dataLoader(ds, { batchSize: 2, shufle: false } as never)],
      ['fit', () => fit(toyModel(), toyData(8), { epochs: 1, opt: sgd(0.1), epoch: 2 } as never)],
      ['fitOneCycle', () => fitOneCycle(toyModel(), toyData(8), { epochs: 1, lrMax: 1e-3, lr: 2 } as never)],
      ['lrFind', () => lrFind(toyModel(), toyData(8).train, { num: 3 } as never)],
      ['loadImageFolder', () => loadImageFolder('/nonexistent', { size: [8, 8], chanels: 1 } as never)],
      ['dataParallel', () => dataParallel({ workers: 2, spec: { module: 'm', export: 'e' }, worker: 2 } as never)],
      ['saveCheckpoints', () => saveCheckpoints({ path: 'x.safetensors', mod: 'best' } as never)],
    ];
    for (const [owner, call] of unknown) {
      const e = await configErrorOf(call);
      assert.ok(e, `${owner}: a misspelt option was accepted`);
      assert.match(e.message, new RegExp(`${owner}\\.\\w+: unknown option`), e.message);
    }
    console.log(`option cases checked: ${cases + unknown.length}`);
  });
});

/**
 * Values of the wrong shape, not only the wrong number: tuples of the wrong
 * length, nested records with a misspelt key, sizes that would allocate
 * terabytes. Each row: the message's `owner.field`, the bad value as the
 * message shows it, and the call.
 */
describe('values of the wrong shape are refused, naming the field and showing the value', () => {
  const rows: readonly (readonly [field: string, shown: string, call: () => unknown])[] = [
    ['conv2d.padding', 'got [1, 2, 3]', () => conv2d({ nf: 2, padding: [1, 2, 3] as never })],
    ['conv2d.padding', 'got [1, -1]', () => conv2d({ nf: 2, padding: [1, -1] })],
    ['conv2d.padding', 'got [1]', () => conv2d({ nf: 2, padding: [1] as never })],
    ['conv2d.padding', 'got "full"', () => conv2d({ nf: 2, padding: 'full' as never })],
    ['conv2d.ks', 'got 1000000', () => conv2d({ nf: 2, ks: 1e6 })],
    ['conv2d.nf', 'got 1000000000', () => conv2d({ nf: 1e9, ni: 16 })],
    ['dense.nf', 'got 1000000000000', () => dense({ nf: 1e12 })],
    ['leakyRelu.slope', 'got NaN', () => leakyRelu(NaN)],
    ['leakyRelu.slope', 'got "0.1"', () => leakyRelu('0.1' as never)],
    ['pointwise.fn', 'got 3', () => pointwise('f', 3 as never)],
    ['serial', 'got a function', () => serial(conv2d as never)],
    ['add', 'at least one layer', () => add()],
    ['dataLoader.limit', 'got NaN', () => dataLoader(ds, { batchSize: 2, limit: NaN })],
    ['dataLoader.limit', 'got 2.5', () => dataLoader(ds, { batchSize: 2, limit: 2.5 })],
    ['dataLoader.padCrop', 'got -1', () => dataLoader(ds, { batchSize: 2, padCrop: -1 })],
    ['dataLoader.padCrop', 'got 1.5', () => dataLoader(ds, { batchSize: 2, padCrop: 1.5 })],
    ['dataLoader.scale', 'got NaN', () => dataLoader(ds, { batchSize: 2, scale: NaN })],
    ['dataLoader.key', 'got "seed"', () => dataLoader(ds, { batchSize: 2, key: 'seed' as never })],
    ['dataLoader.key', 'got [1, NaN]', () => dataLoader(ds, { batchSize: 2, key: [1, NaN] as never })],
    ['dataLoader.normalize.std.0', 'got Infinity', () => dataLoader(ds, { batchSize: 2, normalize: { mean: [0], std: [Infinity] } })],
    ['dataLoader.normalize.mean.0', 'got NaN', () => dataLoader(ds, { batchSize: 2, normalize: { mean: [NaN], std: [1] } })],
    [
      'dataLoader.normalize.sdt',
      'unknown option, got [1]; did you mean std?',
      () => dataLoader(ds, { batchSize: 2, normalize: { mean: [0], std: [1], sdt: [1] } as never }),
    ],
    ['dataLoader.normalize', 'got "imagenet"', () => dataLoader(ds, { batchSize: 2, normalize: 'imagenet' as never })],
    ['dataLoader.shufle', 'did you mean shuffle?', () => dataLoader(ds, { batchSize: 2, shufle: false } as never)],
    ['channelStats.scale', 'got NaN', () => channelStats(ds, NaN)],
    ['loadImageFolder.size', 'got [8]', () => loadImageFolder('/nonexistent', { size: [8] as never })],
    ['loadImageFolder.size', 'got [8, 8, 8]', () => loadImageFolder('/nonexistent', { size: [8, 8, 8] as never })],
    ['loadImageFolder.size.1', 'got 0', () => loadImageFolder('/nonexistent', { size: [8, 0] })],
    ['loadImageFolder.channels', 'got 2', () => loadImageFolder('/nonexistent', { size: [8, 8], channels: 2 as never })],
    ['loadImageFolder.splits', 'got ["a", "b", "c"]', () => loadImageFolder('/nonexistent', { size: [8, 8], splits: ['a', 'b', 'c'] as never })],
    ['loadFashionMnist.download', 'got "no"', () => loadFashionMnist({ download: 'no' as never })],
    ['loadFashionMnist.dri', 'did you mean dir?', () => loadFashionMnist({ dri: '/tmp', download: false } as never)],
    ['oneCycle.moms', 'got [0.95, 0.85, 0.95, 0.9]', () => oneCycle({ lrMax: 1e-3, moms: [0.95, 0.85, 0.95, 0.9] as never })],
    ['oneCycle.moms.1', 'got NaN', () => oneCycle({ lrMax: 1e-3, moms: [0.95, NaN, 0.95] })],
    ['oneCycle.pctStrat', 'did you mean pctStart?', () => oneCycle({ lrMax: 1e-3, pctStrat: 0.3 } as never)],
    ['combineScheds.pcts.0', 'got NaN', () => combineScheds([NaN, 1], [schedNo(1), schedNo(2)])],
    ['combineScheds.scheds.1', 'got 2', () => combineScheds([0.5, 0.5], [schedNo(1), 2 as never])],
    ['combinedCos.pct', 'got 1.5', () => combinedCos(1.5, 0, 1, 0)],
    ['combinedCos.middle', 'got Infinity', () => combinedCos(0.5, 0, Infinity, 0)],
    ['warmup.after', 'got 0.1', () => warmup(0.1, 0.1 as never)],
    ['perStep.sched', 'got undefined', () => perStep(undefined as never, 10)],
    ['fanOut.n', 'got 0', () => fanOut(0)],
    ['avgPool.padding', 'expected at most half the window (size 2), got 3', () => avgPool({ size: 2, padding: 3 })],
    ['dataLoader.nClasses', 'got 0', () => dataLoader(ds, { batchSize: 2, nClasses: 0 })],
    [
      'dataLoader.ds.y.0',
      'expected an integer in 0..0 (1 class, from the nClasses option), got 1',
      () => dataLoader({ ...ds, y: Int32Array.from(ds.y, () => 1) }, { batchSize: 2, nClasses: 1 }),
    ],
    ['loadFashionMnist.mirror', 'expected an http(s) URL, got "x"', () => loadFashionMnist({ mirror: 'x', download: false })],
    ['crossEntropy.labelSmoothing', 'got NaN', () => crossEntropyWith({ labelSmoothing: NaN })],
    ['adamW.weightdecay', 'did you mean weightDecay?', () => adamW(0.1, { weightdecay: 0.1 } as never)],
  ];
  for (const [field, shown, call] of rows) {
    test(`${field}: ${shown}`, async () => {
      const before = tf.memory().numTensors;
      const e = await configErrorOf(call);
      assert.ok(e, `${field}: expected a ConfigError`);
      assert.ok(e.message.includes(`${field}:`) || e.message.startsWith(`${field}:`), `the message does not name ${field}: ${e.message}`);
      assert.ok(e.message.includes(shown), `the message does not show ${shown}: ${e.message}`);
      assert.ok(!/got null/.test(e.message), `NaN or Infinity shown as null: ${e.message}`);
      assert.equal(tf.memory().numTensors, before, `${field}: tensors were allocated before refusing`);
    });
  }

  test('a kernel too big for memory is refused at construction, or at init when only the input channels make it so', () => {
    // ks 9000 on 1 input channel: 81M values per output channel; nf 4 makes 324M > 2^28, known at construction.
    assert.throws(() => conv2d({ nf: 4, ks: 9000 }), /conv2d\.ks: expected a value for which the weight holds at most 2\^28 = 268435456 values, got 9000/);
    // ks 2000, nf 2 is 8M values per input channel: fine with 1 channel, too big with 64, which only init knows.
    const conv = conv2d({ nf: 2, ks: 2000, padding: 'same' });
    const before = tf.memory().numTensors;
    assert.throws(
      () => conv.init(prngKey(0), [4, 4, 64]),
      /conv2d\.ks: .* got 2000 \(a \[2000, 2000, 64, 2\] weight holds 512000000; refused before allocating\)/,
    );
    assert.equal(tf.memory().numTensors, before);
  });

  test('values in the domain pass, and decoding copies: later edits of the options change nothing', () => {
    const padding: [number, number] = [1, 0];
    const conv = conv2d({ nf: 2, padding });
    padding[0] = 5;
    const { params, outShape } = conv.init(prngKey(0), [4, 4, 1]);
    assert.deepEqual(outShape, [4, 2, 2]);
    Object.values(params).forEach((p) => (p as tf.Tensor).dispose());
    assert.doesNotThrow(() => dataLoader(ds, { batchSize: 2, normalize: { mean: [0.5], std: [0.25] }, key: prngKey(1), limit: 4, padCrop: 0 }));
  });
});
