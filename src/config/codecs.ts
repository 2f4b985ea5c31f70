/**
 * The io-ts codecs that option sets are built from: refined numbers, guards
 * for functions and library objects, hyperparameters, exact tuples and exact
 * records.
 *
 * @module
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { isKey, type Key } from '../random.ts';
import { friendly, isRecord, unknownOption } from './messages.ts';

// ---------------------------------------------------------------------------
// Refined numbers
// ---------------------------------------------------------------------------

/** The brand of `PositiveInt`: a number that passed its check. */
export interface PositiveIntBrand {
  readonly PositiveInt: unique symbol;
}
/**
 * An integer >= 1.
 *
 * @example
 * ```ts
 * console.log(PositiveInt.is(3)); // true
 * console.log(PositiveInt.is(2.5)); // false
 * ```
 */
export const PositiveInt: t.BrandC<t.NumberC, PositiveIntBrand> = t.brand(
  t.number,
  (n): n is t.Branded<number, PositiveIntBrand> => Number.isInteger(n) && n >= 1,
  'PositiveInt',
);

/** The brand of `NonNegativeInt`: a number that passed its check. */
export interface NonNegativeIntBrand {
  readonly NonNegativeInt: unique symbol;
}
/**
 * An integer >= 0.
 *
 * @example
 * ```ts
 * console.log(NonNegativeInt.is(0)); // true
 * ```
 */
export const NonNegativeInt: t.BrandC<t.NumberC, NonNegativeIntBrand> = t.brand(
  t.number,
  (n): n is t.Branded<number, NonNegativeIntBrand> => Number.isInteger(n) && n >= 0,
  'NonNegativeInt',
);

/** The brand of `Positive`: a number that passed its check. */
export interface PositiveBrand {
  readonly Positive: unique symbol;
}
/**
 * A finite number > 0.
 *
 * @example
 * ```ts
 * console.log(Positive.is(1e-5)); // true
 * console.log(Positive.is(Infinity)); // false
 * ```
 */
export const Positive: t.BrandC<t.NumberC, PositiveBrand> = t.brand(
  t.number,
  (n): n is t.Branded<number, PositiveBrand> => Number.isFinite(n) && n > 0,
  'Positive',
);

/** The brand of `UnitInterval`: a number that passed its check. */
export interface UnitIntervalBrand {
  readonly UnitInterval: unique symbol;
}
/**
 * A number in [0, 1).
 *
 * @example
 * ```ts
 * console.log(UnitInterval.is(0.9)); // true
 * console.log(UnitInterval.is(1)); // false
 * ```
 */
export const UnitInterval: t.BrandC<t.NumberC, UnitIntervalBrand> = t.brand(
  t.number,
  (n): n is t.Branded<number, UnitIntervalBrand> => Number.isFinite(n) && n >= 0 && n < 1,
  'UnitInterval',
);

/** The brand of `Finite`: a number that passed its check. */
export interface FiniteBrand {
  readonly Finite: unique symbol;
}
/**
 * Any finite number.
 *
 * @example
 * ```ts
 * console.log(Finite.is(NaN)); // false
 * ```
 */
export const Finite: t.BrandC<t.NumberC, FiniteBrand> = t.brand(
  t.number,
  (n): n is t.Branded<number, FiniteBrand> => Number.isFinite(n),
  'Finite',
);

/** The brand of `NonNegative`: a number that passed its check. */
export interface NonNegativeBrand {
  readonly NonNegative: unique symbol;
}
/**
 * A finite number >= 0.
 *
 * @example
 * ```ts
 * console.log(NonNegative.is(0)); // true
 * ```
 */
export const NonNegative: t.BrandC<t.NumberC, NonNegativeBrand> = t.brand(
  t.number,
  (n): n is t.Branded<number, NonNegativeBrand> => Number.isFinite(n) && n >= 0,
  'NonNegative',
);

/** The brand of `Fraction`: a number that passed its check. */
export interface FractionBrand {
  readonly Fraction: unique symbol;
}
/**
 * A number in [0, 1].
 *
 * @example
 * ```ts
 * console.log(Fraction.is(1)); // true
 * ```
 */
export const Fraction: t.BrandC<t.NumberC, FractionBrand> = t.brand(
  t.number,
  (n): n is t.Branded<number, FractionBrand> => Number.isFinite(n) && n >= 0 && n <= 1,
  'Fraction',
);

// ---------------------------------------------------------------------------
// Other codecs
// ---------------------------------------------------------------------------

/**
 * A value that `is` accepts, named `name` in messages: for options that are
 * functions or library objects (a loss, an optimizer, a key).
 *
 * @example
 * ```ts
 * const Tensorish = guard<{ shape: number[] }>('a tensor', (u) => Array.isArray((u as { shape?: unknown })?.shape));
 * console.log(Tensorish.is({ shape: [2] })); // true
 * ```
 */
export const guard = <A>(name: string, is: (u: unknown) => boolean): t.Type<A, A, unknown> =>
  new t.Type<A, A, unknown>(name, (u): u is A => is(u), (u, c) => (is(u) ? t.success(u as A) : t.failure(u, c)), t.identity);

/**
 * A string that is not empty, called `name` in messages (a label, a path).
 *
 * @example
 * ```ts
 * const Path = nonEmptyString('a file path');
 * console.log(Path.is('')); // false
 * ```
 */
export const nonEmptyString = (name: string): t.Type<string, string, unknown> => guard<string>(name, (u) => typeof u === 'string' && u !== '');

/**
 * A {@link PositiveInt} of at most `max`: a count that sizes an allocation or
 * a loop, bounded before anything is made.
 *
 * @example
 * ```ts
 * console.log(positiveIntUpTo(64).is(65)); // false
 * ```
 */
export const positiveIntUpTo = (max: number): t.RefinementC<typeof PositiveInt> => t.refinement(PositiveInt, (n) => n <= max, `integer in 1..${max}`);

/**
 * A function, of the type `F` the caller names, called `name` in messages (a
 * loss, a factory, a callback). Only `typeof` can be checked at run time.
 *
 * @example
 * ```ts
 * const Loss = func<(y: unknown, t: unknown) => unknown>('a loss function');
 * console.log(Loss.is(() => 0)); // true
 * ```
 */
export const func = <F>(name: string): t.Type<F, F, unknown> => guard<F>(name, (u) => typeof u === 'function');

/**
 * A schedule: a function of the optimizer step.
 *
 * @example
 * ```ts
 * console.log(Schedule.is((step: number) => 0.1 / (step + 1))); // true
 * ```
 */
export const Schedule: t.Type<(step: number) => number, (step: number) => number, unknown> = func<(step: number) => number>('schedule');

/**
 * A PRNG key, as `prngKey(seed)` makes: two uint32 words.
 *
 * @example
 * ```ts
 * console.log(PrngKey.is([0, 1])); // true
 * console.log(PrngKey.is('seed')); // false
 * ```
 */
export const PrngKey: t.Type<Key, Key, unknown> = guard<Key>('a PRNG key (prngKey(seed))', isKey);

/** The codec {@link hyper} makes: a number that `C` accepts, or a {@link Schedule}. */
export type HyperC<C extends t.Mixed> = t.UnionC<[C, typeof Schedule]>;

/**
 * A hyperparameter: a number that `range` accepts, or a schedule. Its
 * TypeScript type is `number | ((step: number) => number)`, the optimizers'
 * `Hyper`.
 *
 * @example
 * ```ts
 * import { decodeArg } from './decode.ts';
 *
 * console.log(decodeArg('sgd.lr', hyper(NonNegative), 0.1)); // 0.1
 * try {
 *   decodeArg('sgd.lr', hyper(NonNegative), NaN);
 * } catch (e) {
 *   console.log((e as Error).message); // sgd.lr: expected non-negative number or schedule, got NaN
 * }
 * ```
 */
export const hyper = <C extends t.Mixed>(range: C): HyperC<C> => t.union([range, Schedule], `${range.name} | schedule`);

/** What {@link tupleOf} returns: a codec of read-only tuples of `C`'s types. */
export type TupleOfC<C extends readonly t.Mixed[]> = t.Type<
  { readonly [I in keyof C]: t.TypeOf<C[I]> },
  { readonly [I in keyof C]: t.OutputOf<C[I]> },
  unknown
>;

/**
 * A read-only tuple of exactly `codecs.length` items. (io-ts's `t.tuple`
 * drops extra items silently: `[1, 2, 3]` would pass as `[1, 2]`.)
 *
 * @example
 * ```ts
 * const Size = tupleOf([PositiveInt, PositiveInt], '[height, width]');
 * console.log(Size.is([8, 8])); // true
 * console.log(Size.is([8, 8, 8])); // false
 * ```
 */
export const tupleOf = <const C extends readonly t.Mixed[]>(
  codecs: C,
  name = `[${codecs.map((c) => friendly(c.name)).join(', ')}]`,
): TupleOfC<C> => {
  type A = { readonly [I in keyof C]: t.TypeOf<C[I]> };
  type O = { readonly [I in keyof C]: t.OutputOf<C[I]> };
  const is = (u: unknown): u is A => Array.isArray(u) && u.length === codecs.length && codecs.every((c, i) => c.is(u[i]));
  return new t.Type<A, O, unknown>(name, is, (u, c) => {
    if (!Array.isArray(u) || u.length !== codecs.length) return t.failure(u, c);
    const errors: t.ValidationError[] = [];
    codecs.forEach((codec, i) => {
      const r = codec.validate(u[i], t.appendContext(c, String(i), codec, u[i]));
      if (isLeft(r)) errors.push(...r.left);
    });
    return errors.length ? t.failures(errors) : t.success(u.slice() as unknown as A);
  }, (a) => a as unknown as O);
};

/** The io-ts record that {@link strictRecord} refines: its TypeScript types are this one's. */
type RecordC<R extends t.Props, O extends t.Props> = t.ExactC<t.IntersectionC<[t.TypeC<R>, t.PartialC<O>]>>;

/** What {@link strictRecord} returns: the record codec of required fields `R` and optional fields `O`, with its keys. */
export type StrictRecordC<R extends t.Props, O extends t.Props> = t.Type<t.TypeOf<RecordC<R, O>>, t.OutputOf<RecordC<R, O>>, unknown> & {
  readonly keys: readonly string[];
};

/**
 * A record codec with required and optional fields that refuses every other
 * key by name (io-ts's `t.exact` drops them silently, and a misspelt option is
 * a silent bug). Option sets use it, and so do records nested in options
 * (`normalize: { mean, std }`), so these are exact too.
 *
 * @example
 * ```ts
 * import * as t from 'io-ts';
 * import { decodeOrThrow } from './decode.ts';
 *
 * const Normalize = strictRecord('{ mean, std }', { mean: t.readonlyArray(Finite), std: t.readonlyArray(Positive) }, {});
 * console.log(Normalize.is({ mean: [0.5], std: [0.25] })); // true
 * try {
 *   decodeOrThrow('dataLoader.normalize', Normalize, { mean: [0], std: [1], sdt: [1] });
 * } catch (e) {
 *   console.log((e as Error).message); // dataLoader.normalize.sdt: unknown option, got [1]; did you mean std? (known: mean, std)
 * }
 * ```
 */
export const strictRecord = <R extends t.Props, O extends t.Props>(
  name: string,
  required: R,
  optional: O,
): StrictRecordC<R, O> => {
  type A = t.TypeOf<RecordC<R, O>>;
  const keys = [...Object.keys(required), ...Object.keys(optional)];
  const known = new Set(keys);
  const req = t.type(required), opt = t.partial(optional);
  const is = (u: unknown): u is A => isRecord(u) && Object.keys(u).every((k) => known.has(k)) && req.is(u) && opt.is(u);
  const codec = new t.Type<A, t.OutputOf<RecordC<R, O>>, unknown>(name, is, (u, c) => {
    if (!isRecord(u)) return t.failure(u, c);
    const errors: t.ValidationError[] = Object.keys(u).filter((k) => !known.has(k)).map((k) => ({
      value: u[k],
      context: t.appendContext(c, k, t.never, u[k]),
      message: unknownOption(k, u[k], keys),
    }));
    const a = req.validate(u, c), b = opt.validate(u, c);
    if (isLeft(a)) errors.push(...a.left);
    if (isLeft(b)) errors.push(...b.left);
    if (errors.length || isLeft(a) || isLeft(b)) return t.failures(errors);
    // A fresh record of the known fields: later edits of the caller's object change nothing.
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(required)) out[k] = (a.right as Record<string, unknown>)[k];
    for (const k of Object.keys(optional)) if (k in u) out[k] = (b.right as Record<string, unknown>)[k];
    return t.success(out as A);
  }, (a) => a as t.OutputOf<RecordC<R, O>>);
  return Object.assign(codec, { keys });
};

/** Whether `u` survives `JSON.stringify` and `JSON.parse` unchanged (no NaN, functions, cycles or class instances). */
const isJson = (u: unknown, depth = 0): boolean => {
  if (u === null || typeof u === 'string' || typeof u === 'boolean') return true;
  if (typeof u === 'number') return Number.isFinite(u);
  if (depth > 64 || typeof u !== 'object') return false;
  if (Array.isArray(u)) return u.every((x) => isJson(x, depth + 1));
  const proto = Object.getPrototypeOf(u);
  return (proto === Object.prototype || proto === null) && Object.values(u as object).every((x) => isJson(x, depth + 1));
};

/**
 * A JSON value that round-trips exactly: `JSON.stringify` would save NaN and
 * ±Infinity as `null` and drop functions, so a configuration holding one is refused.
 *
 * @example
 * ```ts
 * console.log(JsonValue.is({ model: 'resnet', lr: 3e-3 })); // true
 * console.log(JsonValue.is({ lr: NaN })); // false
 * ```
 */
export const JsonValue: t.Type<unknown, unknown, unknown> = guard<unknown>(
  'a JSON value (finite numbers, strings, booleans, null, arrays and plain records)',
  (u) => isJson(u),
);
