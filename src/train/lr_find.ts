/**
 * fastai's learning-rate finder: train briefly while the learning rate grows
 * exponentially, record the smoothed loss, and suggest a learning rate.
 *
 * @module
 */
import type { Loader } from '../data/loader.ts';
import * as t from 'io-ts';
import {
  func,
  guard,
  type NoFields,
  optionSet,
  type OptionSetOf,
  type OptionsOf,
  Positive,
  PositiveInt,
  PrngKey,
  type SameType,
  typesAgree,
} from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { AnyLayer } from '../layer.ts';
import { adamW } from '../optim/aliases.ts';
import type { AnyTransformation, StepSchedule } from '../optim/base.ts';
import { type Key, prngKey, split } from '../random.ts';
import { cloneTree } from '../tree.ts';
import { compareTrainState } from './structure.ts';
import { crossEntropy, type Loss } from './losses.ts';
import { disposeReplacedTrainState, disposeTrainState, initTrainState, LossFn, type StepResult, type TrainState, trainStep } from './step.ts';
import { standardOut } from './observers.ts';
import { niceTicks, plotFrame } from './svg_axes.ts';
import { progressBar, type TextOut, TextOutCodec } from './progress_bar.ts';
import { ensureEngine } from '../engine_choice.ts';

type OptFactory = (lr: StepSchedule) => AnyTransformation;
type Start = Pick<TrainState, 'params' | 'state'>;
const OptFactoryFn: t.Type<OptFactory, OptFactory, unknown> = func<OptFactory>('an optimizer factory (lr) => opt');
const From: t.Type<Start, Start, unknown> = guard<Start>('{ params, state }', (u) => typeof u === 'object' && u !== null && 'params' in u && 'state' in u);

/** Options of {@link lrFind}, with fastai's defaults. */
export interface LrFindOptions {
  /** The first learning rate. Default 1e-7. */
  readonly startLr?: number;
  /** The last learning rate. Default 10. */
  readonly endLr?: number;
  /** Steps. Default 100. */
  readonly numIt?: number;
  /** Stop once the smoothed loss exceeds 4× its minimum. Default true. */
  readonly stopDiv?: boolean;
  /** The loss. Default `crossEntropy`. */
  readonly loss?: Loss;
  /** The optimizer for a given lr schedule. Default AdamW with fastai's defaults. */
  readonly makeOpt?: (lr: StepSchedule) => AnyTransformation;
  /** Start from a copy of these params and state (left untouched); else a fresh init from `key`. */
  readonly from?: Pick<TrainState, 'params' | 'state'>;
  /** The random key: of a fresh init, and of the steps (dropout). Default `prngKey(0)`. */
  readonly key?: Key;
  /** Where the progress bar is drawn, when it is a TTY. Default `process.stdout` (nothing in a browser). */
  readonly out?: TextOut;
}

const lrFindOptional = {
  startLr: Positive,
  endLr: Positive,
  numIt: PositiveInt,
  stopDiv: t.boolean,
  loss: LossFn,
  makeOpt: OptFactoryFn,
  from: From,
  key: PrngKey,
  out: TextOutCodec,
};
const LrFindOptionSet: OptionSetOf<NoFields, typeof lrFindOptional> = optionSet('lrFind', {}, lrFindOptional);
typesAgree<SameType<LrFindOptions, OptionsOf<typeof LrFindOptionSet>>>();

/** The curve and the suggestions, as fastai's `SuggestionMethod`s compute them. */
export interface LrFindResult {
  /** The learning rate of each step taken. */
  readonly lrs: readonly number[];
  /** Smoothed (exponential moving average, debiased) losses. */
  readonly losses: readonly number[];
  /** fastai's `valley`: inside the longest descending stretch of the curve. */
  readonly valley: number;
  /** fastai's `steep`: where the loss falls fastest against log lr. */
  readonly steep: number;
  /** fastai's `minimum`: a tenth of the lr at the lowest loss. */
  readonly minimum: number;
}

// ---------------------------------------------------------------------------
// Suggestions (fastai/callback/schedule.py)
// ---------------------------------------------------------------------------

/** The region fastai's suggestions look at: skip the first tenth and the last 5 points. */
const region = (lrs: readonly number[], losses: readonly number[], numIt: number) => {
  const start = Math.floor(numIt / 10), end = Math.max(start + 2, losses.length - 5);
  return { lrs: lrs.slice(start, end), losses: losses.slice(start, end) };
};

/**
 * fastai's `valley`: longest decreasing subsequence, then 2/3 of a third into it.
 *
 * @example
 * ```ts
 * import { valleySuggestion } from 'tsnn';
 *
 * const lrs = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];
 * const losses = [2.3, 2.29, 2.25, 2.0, 1.5, 0.9, 1.2, 4];
 * console.log(valleySuggestion(lrs, losses)); // 0.0001
 * ```
 */
export const valleySuggestion = (lrs: readonly number[], losses: readonly number[]): number => {
  const n = losses.length;
  const lds = new Array(n).fill(1);
  let maxStart = 0, maxEnd = 0;
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (losses[i] < losses[j] && lds[i] < lds[j] + 1) lds[i] = lds[j] + 1;
      if (lds[maxEnd] < lds[i]) {
        maxEnd = i;
        maxStart = maxEnd - lds[maxEnd];
      }
    }
  }
  const sections = (maxEnd - maxStart) / 3;
  const idx = maxStart + Math.floor(sections) + Math.floor(sections / 2);
  return lrs[Math.min(Math.max(idx, 0), n - 1)];
};

/**
 * fastai's `steep`: the lr where d loss / d log lr is most negative.
 *
 * @example
 * ```ts
 * import { steepSuggestion } from 'tsnn';
 *
 * const lrs = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];
 * const losses = [2.3, 2.29, 2.25, 2.0, 1.5, 0.9, 1.2, 4];
 * console.log(steepSuggestion(lrs, losses)); // 0.01 (from 1e-2 to 1e-1 the loss falls most)
 * ```
 */
export const steepSuggestion = (lrs: readonly number[], losses: readonly number[]): number => {
  let best = 0, bestGrad = Infinity;
  for (let i = 0; i + 1 < losses.length; i++) {
    const g = (losses[i + 1] - losses[i]) / (Math.log(lrs[i + 1]) - Math.log(lrs[i]));
    if (g < bestGrad) {
      bestGrad = g;
      best = i;
    }
  }
  return lrs[best];
};

/**
 * fastai's `minimum`: the lr at the lowest loss, divided by 10.
 *
 * @example
 * ```ts
 * import { minimumSuggestion } from 'tsnn';
 *
 * const lrs = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];
 * const losses = [2.3, 2.29, 2.25, 2.0, 1.5, 0.9, 1.2, 4];
 * console.log(minimumSuggestion(lrs, losses)); // 0.01 (a tenth of the lr at the lowest loss)
 * ```
 */
export const minimumSuggestion = (lrs: readonly number[], losses: readonly number[]): number => lrs[losses.indexOf(Math.min(...losses))] / 10;

// ---------------------------------------------------------------------------
// The finder
// ---------------------------------------------------------------------------

/**
 * Run the LR finder on a copy of the state: the original is left untouched.
 *
 * @example
 * ```ts
 * import { dataLoader, dense, lrFind } from 'tsnn';
 *
 * const ds = { x: Float32Array.from({ length: 32 * 4 }, (_, i) => i % 3), y: Int32Array.from({ length: 32 }, (_, i) => i % 2), shape: [4] };
 * const r = await lrFind(dense({ nf: 2 }), dataLoader(ds, { batchSize: 8 }), { numIt: 20 });
 * console.log(r.lrs.length <= 20, r.valley > 0 && r.steep > 0); // true true
 * ```
 */
export const lrFind = async (model: AnyLayer, train: Loader, options: LrFindOptions = {}): Promise<LrFindResult> => {
  const opts = LrFindOptionSet.decode(options);
  const startLr = opts.startLr ?? 1e-7, endLr = opts.endLr ?? 10, numIt = opts.numIt ?? 100;
  if (!(startLr > 0 && endLr > startLr)) throw new ConfigError([`lrFind: expected 0 < startLr < endLr, got ${startLr} and ${endLr}`]);
  if (!Number.isInteger(numIt) || numIt < 2) throw new ConfigError([`lrFind.numIt: expected an integer >= 2, got ${numIt}`]);
  await ensureEngine('lrFind');
  // fastai's SchedExp over numIt iterations, at position i / numIt.
  const lrAt = (step: number) => startLr * (endLr / startLr) ** (step / numIt);
  const opt = (opts.makeOpt ?? ((lr) => adamW(lr)))(lrAt);
  const key = opts.key ?? prngKey(0);
  if (opts.from) {
    const misfit = compareTrainState(model, opt, train.shape, opts.from).problems;
    if (misfit.length) throw new ConfigError(misfit.map((p) => `lrFind.from: ${p}`));
  }
  // From given params, copy them rather than drawing (and discarding) a fresh init.
  let ts: TrainState = opts.from
    ? { params: cloneTree(opts.from.params), state: cloneTree(opts.from.state), optState: opt.init(opts.from.params), step: 0, key: split(key, 2)[1] }
    : initTrainState(model, opt, key, train.shape);
  const step = trainStep(model, opts.loss ?? crossEntropy, opt);
  const lrs: number[] = [], losses: number[] = [];
  let avg = 0, best = Infinity;
  const bar = progressBar(opts.out ?? standardOut(), numIt);
  try {
    outer:
    for (let epoch = 0;; epoch++) {
      for (const batch of train.batches(epoch)) {
        const i = ts.step;
        let r: StepResult;
        try {
          r = await step(ts, batch);
        } finally {
          batch.x.dispose();
          batch.y.dispose();
        }
        disposeReplacedTrainState(ts, r.trainState);
        ts = r.trainState;
        avg = 0.98 * avg + 0.02 * r.loss;
        const smooth = avg / (1 - 0.98 ** (i + 1));
        lrs.push(lrAt(i));
        losses.push(smooth);
        best = Math.min(best, smooth);
        bar.update(Math.min(ts.step, numIt), `lr ${lrAt(i).toExponential(2)}  loss ${smooth.toFixed(4)}`);
        if (!Number.isFinite(smooth) || ((opts.stopDiv ?? true) && smooth > 4 * best) || ts.step >= numIt) break outer;
        await new Promise((res) => setTimeout(res, 0));
      }
    }
  } finally {
    bar.done();
    // The sweep's own copy, also when a step throws.
    disposeTrainState(ts);
  }
  const finite = losses.map((l) => (Number.isFinite(l) ? l : Infinity));
  const r = region(lrs, finite, numIt);
  const result: LrFindResult = {
    lrs,
    losses,
    valley: valleySuggestion(r.lrs, r.losses),
    steep: steepSuggestion(r.lrs, r.losses),
    minimum: minimumSuggestion(r.lrs, r.losses),
  };
  return result;
};

// ---------------------------------------------------------------------------
// Plot
// ---------------------------------------------------------------------------

/**
 * The LR-finder plot as SVG: loss against log10 lr, suggestions marked.
 *
 * @example
 * ```ts
 * import { lrFindSvg } from 'tsnn';
 *
 * const dir = Deno.makeTempDirSync();
 * const result = { lrs: [1e-4, 1e-3, 1e-2, 1e-1], losses: [2.3, 1.9, 1.1, 3], valley: 1e-3, steep: 1e-3, minimum: 1e-3 };
 * Deno.writeTextFileSync(`${dir}/lr.svg`, lrFindSvg(result));
 * console.log(Deno.readTextFileSync(`${dir}/lr.svg`).startsWith('<svg')); // true
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const lrFindSvg = (r: LrFindResult): string => {
  const pts = r.lrs.map((lr, i) => [Math.log10(lr), r.losses[i]] as const).filter(([, l]) => Number.isFinite(l));
  const xs = pts.map(([x]) => x), ys = pts.map(([, y]) => y);
  const y0 = Math.min(...ys);
  // The y range stops at 4× the initial drop above the minimum, as fastai's plot does; the diverging tail
  // leaves the frame (clipped) rather than being drawn flat along its top.
  const y1 = Math.min(Math.max(...ys), y0 + 4 * (ys[0] - y0 || 1));
  const xTicks = [];
  for (let e = Math.floor(Math.min(...xs)); e <= Math.ceil(Math.max(...xs)); e++) xTicks.push(e);
  const frame = plotFrame({
    x: { ticks: xTicks, label: 'learning rate (log scale)', format: (e) => `1e${e}` },
    y: { ticks: niceTicks(y0, y1, 6), label: 'loss (smoothed)' },
  });
  const line = `<polyline points="${
    pts.map(([x, y]) => `${frame.x(x).toFixed(1)},${frame.y(y).toFixed(1)}`).join(' ')
  }" fill="none" stroke="#1f77b4" stroke-width="2"/>`;
  const lossAt = (lr: number) => {
    let k = 0;
    r.lrs.forEach((v, i) => (Math.abs(Math.log(v / lr)) < Math.abs(Math.log(r.lrs[k] / lr)) ? (k = i) : 0));
    return r.losses[k];
  };
  const marks = ([['valley', r.valley, '#d62728'], ['steep', r.steep, '#2ca02c'], ['minimum', r.minimum, '#9467bd']] as const)
    .map(([name, lr, color], i) => {
      const cx = frame.x(Math.log10(lr)), cy = frame.y(lossAt(lr));
      return `<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="5" fill="${color}"/>` +
        `<text x="${frame.right - 150}" y="${frame.top + 16 * (i + 1)}" fill="${color}" font-size="12">${name}: ${lr.toExponential(2)}</text>`;
    }).join('');
  return frame.svg(line + marks);
};
