/**
 * fastai's parameter groups and discriminative learning rates: `slice(lo, hi)`
 * spread over the groups (`even_mults`), a group per list of path prefixes.
 *
 * @module
 */
import * as t from 'io-ts';
import { ConfigError } from '../errors.ts';
import type { AnyTransformation } from '../optim/base.ts';
import { type Labeler, multiTransform, underPrefix } from '../optim/partition.ts';
import { Positive } from '../config.ts';

/** fastai's `slice(hi)` or `slice(lo, hi)`: learning rates across parameter groups. */
export interface LrSlice {
  /** The first group's rate; without it, every group but the last gets `hi / 10`. */
  readonly lo?: number;
  /** The last group's rate. */
  readonly hi: number;
}

/** The codec of {@link LrSlice}. */
export const LrSliceCodec: t.Type<LrSlice, LrSlice, unknown> = t.intersection(
  [t.type({ hi: Positive }), t.partial({ lo: Positive })],
  'an lr slice { lo?, hi }',
) as never;

/**
 * fastai's `slice`: `lrSlice(hi)` or `lrSlice(lo, hi)`.
 *
 * @example
 * ```ts
 * import { groupLrs, lrSlice } from 'tsnn';
 *
 * console.log(groupLrs(lrSlice(1e-3), 3), groupLrs(lrSlice(1e-5, 1e-3), 3)); // [ 0.0001, 0.0001, 0.001 ] [ 0.00001, 0.0001, 0.001 ]
 * ```
 */
export const lrSlice = (loOrHi: number, hi?: number): LrSlice => (hi === undefined ? { hi: loOrHi } : { lo: loOrHi, hi });

/**
 * fastai's `even_mults(start, stop, n)`: `n` rates from `start` to `stop`, evenly spaced in log scale.
 *
 * @example
 * ```ts
 * import { evenMults } from 'tsnn';
 *
 * console.log(evenMults(1e-4, 1e-2, 3).map((v) => +v.toPrecision(3))); // [ 0.0001, 0.001, 0.01 ]
 * ```
 */
export const evenMults = (start: number, stop: number, n: number): number[] => {
  if (n === 1) return [stop];
  const step = (stop / start) ** (1 / (n - 1));
  return Array.from({ length: n }, (_, i) => start * step ** i);
};

/**
 * The rate of each of `n` groups, as fastai's `Optimizer.set_hyper` spreads
 * them: a number for every group; `slice(lo, hi)` as `evenMults(lo, hi, n)`;
 * `slice(hi)` as `hi / 10` for every group but the last, which gets `hi`.
 *
 * @example
 * ```ts
 * import { groupLrs } from 'tsnn';
 *
 * console.log(groupLrs(3e-3, 2), groupLrs({ hi: 1e-2 }, 2)); // [ 0.003, 0.003 ] [ 0.001, 0.01 ]
 * ```
 */
export const groupLrs = (lr: number | LrSlice, n: number): number[] => {
  if (typeof lr === 'number') return new Array(n).fill(lr);
  if (lr.lo !== undefined) return evenMults(lr.lo, lr.hi, n);
  return [...new Array(n - 1).fill(lr.hi / 10), lr.hi];
};

/** Each param's group (`group0`, `group1`, ...): the first group holding a prefix of its path; a param in none is a ConfigError. */
export const groupLabeler = (owner: string, groups: readonly (readonly string[])[]): Labeler => (path) => {
  const i = groups.findIndex((g) => g.some((prefix) => underPrefix(path, prefix)));
  if (i < 0) throw new ConfigError([`${owner}.groups: param ${path} is in no group (prefixes: ${JSON.stringify(groups)})`]);
  return `group${i}`;
};

/** One transformation per group, `make(i)` for group `i`; the one group of everything (`[['']]`) needs no partition. */
export const groupedOpt = (owner: string, groups: readonly (readonly string[])[], make: (i: number) => AnyTransformation): AnyTransformation =>
  groups.length === 1 && groups[0].includes('')
    ? make(0)
    : multiTransform(Object.fromEntries(groups.map((_, i) => [`group${i}`, make(i)])), groupLabeler(owner, groups));
