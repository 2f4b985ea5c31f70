/**
 * fastai's schedules: functions of the position `pos ∈ [0, 1]` through
 * training, combinable, and turned into step schedules with {@link perStep}.
 *
 * @module
 */
import * as t from 'io-ts';
import {
  decodeArg,
  Finite,
  Fraction,
  func,
  NonNegative,
  optionSet,
  type OptionSetOf,
  type OptionsOf,
  Positive,
  PositiveInt,
  type SameType,
  tupleOf,
  type TupleOfC,
  typesAgree,
  UnitInterval,
} from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { StepSchedule } from './base.ts';

/** A schedule of the position through training, `pos ∈ [0, 1]`. */
export type Sched = (pos: number) => number;

/** A schedule of the position, checked as a function. */
const SchedFn = func<Sched>('schedule (pos) => number');

/** Check a schedule's two ends on behalf of `owner`. */
const ends = (owner: string, start: number, end: number): void => {
  decodeArg(`${owner}.start`, Finite, start);
  decodeArg(`${owner}.end`, Finite, end);
};

/**
 * Linear from `start` to `end`.
 *
 * @example
 * ```ts
 * console.log(schedLin(1, 0)(0.25)); // 0.75
 * // schedLin(NaN, 0) throws ConfigError: schedLin.start: expected finite number, got NaN
 * ```
 */
export const schedLin = (start: number, end: number): Sched => {
  ends('schedLin', start, end);
  return (pos) => start + pos * (end - start);
};

/**
 * Cosine from `start` to `end` (half a period).
 *
 * @example
 * ```ts
 * console.log(schedCos(1, 0)(0.5)); // 0.5
 * ```
 */
export const schedCos = (start: number, end: number): Sched => {
  ends('schedCos', start, end);
  return (pos) => start + (1 + Math.cos(Math.PI * (1 - pos))) * (end - start) / 2;
};

/**
 * Constant `start`. `end` is there for fastai's signature and ignored, but
 * checked as a number when given.
 *
 * @example
 * ```ts
 * console.log(schedNo(3)(0.9)); // 3
 * ```
 */
export const schedNo = (start: number, end?: number): Sched => {
  decodeArg('schedNo.start', Finite, start);
  if (end !== undefined) decodeArg('schedNo.end', Finite, end);
  return () => start;
};

/**
 * Exponential from `start` to `end` (both positive).
 *
 * @example
 * ```ts
 * console.log(schedExp(1e-7, 10)(0.5)); // 0.001
 * ```
 */
export const schedExp = (start: number, end: number): Sched => {
  decodeArg('schedExp.start', Positive, start);
  decodeArg('schedExp.end', Positive, end);
  return (pos) => start * (end / start) ** pos;
};

/**
 * Join schedules: the i-th runs over a fraction `pcts[i]` of training.
 * Fractions must be non-negative and sum to 1; a zero fraction's schedule never runs.
 *
 * @example
 * ```ts
 * const s = combineScheds([0.3, 0.7], [schedCos(0.1, 1), schedCos(1, 0)]);
 * console.log(s(0.3)); // 1
 * ```
 */
export const combineScheds = (pcts: readonly number[], scheds: readonly Sched[]): Sched => {
  decodeArg('combineScheds.pcts', t.readonlyArray(NonNegative, 'non-negative fractions'), pcts);
  decodeArg('combineScheds.scheds', t.readonlyArray(SchedFn, 'schedules'), scheds);
  if (pcts.length !== scheds.length || pcts.length === 0) {
    throw new ConfigError([`combineScheds: expected as many fractions as schedules, got ${pcts.length} and ${scheds.length}`]);
  }
  if (pcts.some((p) => !(p >= 0)) || Math.abs(pcts.reduce((a, b) => a + b, 0) - 1) > 1e-6) {
    throw new ConfigError([`combineScheds.pcts: expected non-negative fractions summing to 1, got [${pcts.join(', ')}]`]);
  }
  const bounds = pcts.reduce<number[]>((acc, p) => [...acc, acc[acc.length - 1] + p], [0]);
  // As fastai: the last segment whose start is <= pos; pos 1 is the last schedule's end.
  return (pos) => {
    if (pos >= 1) return scheds[scheds.length - 1](1);
    const p = Math.max(pos, 0);
    let i = 0;
    for (let j = 0; j < scheds.length; j++) if (p >= bounds[j] && pcts[j] > 0) i = j;
    return scheds[i]((p - bounds[i]) / pcts[i]);
  };
};

/**
 * Cosine up from `start` to `middle` over `pct`, then cosine down to `end`.
 *
 * @example
 * ```ts
 * console.log(combinedCos(0.25, 1e-4, 1e-3, 1e-8)(0.25)); // 0.001
 * ```
 */
export const combinedCos = (pct: number, start: number, middle: number, end: number): Sched => {
  decodeArg('combinedCos.pct', Fraction, pct);
  for (const [field, v] of [['start', start], ['middle', middle], ['end', end]] as const) decodeArg(`combinedCos.${field}`, Finite, v);
  return combineScheds([pct, 1 - pct], [schedCos(start, middle), schedCos(middle, end)]);
};

const Moms: TupleOfC<readonly [typeof UnitInterval, typeof UnitInterval, typeof UnitInterval]> = tupleOf(
  [UnitInterval, UnitInterval, UnitInterval],
  '[start, middle, end] in [0, 1)',
);

/**
 * The option fields of {@link oneCycle} (shared with `fitOneCycle`).
 *
 * @example
 * ```ts
 * import { optionSet, Positive } from '../config.ts';
 * const Mine = optionSet('myCycle', { lrMax: Positive }, { ...oneCycleFields });
 * ```
 */
export const oneCycleFields = {
  /** Initial lr is `lrMax / div`. Default 25. */
  div: Positive,
  /** Final lr is `lrMax / divFinal`. Default 1e5. */
  divFinal: Positive,
  /** Fraction of training spent warming up. Default 0.25. */
  pctStart: Fraction,
  /** Momentum (Adam's beta1) at start, middle and end. Default (0.95, 0.85, 0.95). */
  moms: Moms,
};
const oneCycleRequired = {
  lrMax: Positive,
};
const OneCycleOptionSet: OptionSetOf<typeof oneCycleRequired, typeof oneCycleFields> = optionSet('oneCycle', oneCycleRequired, oneCycleFields);

/** Options of {@link oneCycle}, with fastai's defaults. */
export interface OneCycleOptions {
  /** The peak learning rate. */
  readonly lrMax: number;
  /** Initial lr is `lrMax / div`. Default 25. */
  readonly div?: number;
  /** Final lr is `lrMax / divFinal`. Default 1e5. */
  readonly divFinal?: number;
  /** Fraction of training spent warming up. Default 0.25. */
  readonly pctStart?: number;
  /** Momentum (Adam's beta1) at start, middle and end. Default (0.95, 0.85, 0.95). */
  readonly moms?: readonly [number, number, number];
}
typesAgree<SameType<OneCycleOptions, OptionsOf<typeof OneCycleOptionSet>>>();

/**
 * fastai's one-cycle policy: the learning rate rises then anneals while the
 * momentum falls then rises.
 *
 * @example
 * ```ts
 * const { lr, mom } = oneCycle({ lrMax: 3e-3 });
 * console.log(lr(0)); // 0.00012
 * console.log(lr(0.25)); // 0.003
 * console.log(mom(0.25)); // 0.85
 * // oneCycle({ lrMax: 3e-3, pctStrat: 0.3 }) throws ConfigError: oneCycle.pctStrat: unknown option, got 0.3; did you mean pctStart? ...
 * ```
 */
export const oneCycle = (opts: OneCycleOptions): { lr: Sched; mom: Sched } => {
  const o = OneCycleOptionSet.decode(opts);
  const div = o.div ?? 25, divFinal = o.divFinal ?? 1e5, pct = o.pctStart ?? 0.25;
  const [m0, m1, m2] = o.moms ?? [0.95, 0.85, 0.95];
  return {
    lr: combinedCos(pct, o.lrMax / div, o.lrMax, o.lrMax / divFinal),
    mom: combinedCos(pct, m0, m1, m2),
  };
};

/**
 * fastai's flat-cos: constant `lr` for `pctStart`, then cosine to 0.
 *
 * @example
 * ```ts
 * console.log(flatCos(1e-3)(0.5)); // 0.001
 * ```
 */
export const flatCos = (lr: number, pctStart = 0.75): Sched => {
  decodeArg('flatCos.lr', Finite, lr);
  decodeArg('flatCos.pctStart', Fraction, pctStart);
  return combineScheds([pctStart, 1 - pctStart], [schedNo(lr), schedCos(lr, 0)]);
};

/**
 * Linear warm-up from 0 over the first `pct`, then `after` over the rest.
 *
 * @example
 * ```ts
 * console.log(warmup(0.1, schedCos(1e-3, 0))(0.05)); // 0.0005
 * ```
 */
export const warmup = (pct: number, after: Sched): Sched => {
  decodeArg('warmup.pct', Fraction, pct);
  decodeArg('warmup.after', SchedFn, after);
  return combineScheds([pct, 1 - pct], [(p) => p * after(0), after]);
};

/**
 * Turn a schedule of position into a schedule of step, over `totalSteps`:
 * step `s` is at position `s / totalSteps`, as in fastai's ParamScheduler.
 *
 * @example
 * ```ts
 * const lr = perStep(oneCycle({ lrMax: 1e-2 }).lr, 500);
 * console.log(lr(0)); // 0.0004
 * console.log(lr(125)); // 0.01, the peak, a quarter of the way
 * ```
 */
export const perStep = (sched: Sched, totalSteps: number): StepSchedule => {
  decodeArg('perStep.sched', SchedFn, sched);
  decodeArg('perStep.totalSteps', PositiveInt, totalSteps);
  return (step) => sched(Math.min(step / totalSteps, 1));
};
