/**
 * Decoding options with messages that name the field and the value, option
 * sets declared once, and the bound on weight sizes.
 *
 * @module
 */
import type * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { ConfigError } from '../errors.ts';
import { strictRecord, type StrictRecordC } from './codecs.ts';
import { friendly, showValue } from './messages.ts';

const tagOf = (type: t.Decoder<unknown, unknown>): string => (type as { _tag?: string })._tag ?? '';

/** Wrappers that validate with their parent's context: the keys under them are their inner codec's. */
const WRAPPERS = new Set(['ExactType', 'ReadonlyType', 'RefinementType', 'StrictType']);

/** True when the codec that appended a context entry under `parent` keys its members by index (not a field). */
const byMember = (parent: t.Decoder<unknown, unknown>): boolean => {
  let core = parent as t.Decoder<unknown, unknown> & { type?: t.Decoder<unknown, unknown> };
  while (WRAPPERS.has(tagOf(core)) && core.type) core = core.type as typeof core;
  return tagOf(core) === 'IntersectionType' || tagOf(core) === 'UnionType';
};

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/**
 * Format io-ts errors as `owner.field: expected X, got Y`, one per problem.
 * A union (a padding mode, a hyperparameter) is one problem, named by the
 * union and shown with the value given for it.
 *
 * @example
 * ```ts
 * import * as t from 'io-ts';
 * import { isLeft } from 'fp-ts/lib/Either.js';
 * import { PositiveInt } from './codecs.ts';
 *
 * const r = t.type({ stride: PositiveInt }).decode({ stride: 0 });
 * if (isLeft(r)) console.log(formatErrors('conv2d', r.left)); // [ "conv2d.stride: expected positive integer, got 0" ]
 * ```
 */
export const formatErrors = (owner: string, errors: t.Errors): string[] => {
  const lines = errors.map((e) => {
    // The first union on the path is the field's type: stop there, at the value given for it.
    const u = e.message ? -1 : e.context.findIndex((c) => tagOf(c.type) === 'UnionType');
    const context = u >= 0 ? e.context.slice(0, u + 1) : e.context;
    const value = u >= 0 && 'actual' in context[u] ? context[u].actual : e.value;
    // Intersections and unions key their members by index; those are not fields.
    const keys = context.filter((_, i) => i > 0 && !byMember(context[i - 1].type)).map((c) => c.key);
    const path = [owner, ...keys].join('.');
    if (e.message) return `${path}: ${e.message}`;
    return `${path}: expected ${friendly(context[context.length - 1]?.type.name ?? 'value')}, got ${showValue(value)}`;
  });
  return [...new Set(lines)];
};

/**
 * Decode `value` with `codec`, or throw a ConfigError naming each bad field.
 *
 * @example
 * ```ts
 * import * as t from 'io-ts';
 * import { PositiveInt } from './codecs.ts';
 *
 * const { stride } = decodeOrThrow('conv2d', t.type({ stride: PositiveInt }), { stride: 2 });
 * console.log(stride); // 2
 * try {
 *   decodeOrThrow('conv2d', t.type({ stride: PositiveInt }), { stride: 0 });
 * } catch (e) {
 *   console.log((e as Error).message); // conv2d.stride: expected positive integer, got 0
 * }
 * ```
 */
export const decodeOrThrow = <A, O>(owner: string, codec: t.Type<A, O, unknown>, value: unknown): A => {
  const result = codec.decode(value);
  if (isLeft(result)) throw new ConfigError(formatErrors(owner, result.left));
  return result.right;
};

// ---------------------------------------------------------------------------
// Option sets
// ---------------------------------------------------------------------------

/**
 * An option set's TypeScript type: what a caller writes (plain numbers, no
 * brands), each field with the doc comment written on it in the set.
 *
 * @example
 * ```ts
 * import { PositiveInt } from './codecs.ts';
 *
 * const PoolOptions = optionSet('pool', { size: PositiveInt }, { stride: PositiveInt });
 * type PoolOptions = OptionsOf<typeof PoolOptions>; // { size: number } & { stride?: number }
 * const o: PoolOptions = { size: 2 };
 * console.log(o); // { size: 2 }
 * ```
 */
export type OptionsOf<S extends { readonly codec: t.Mixed }> = t.OutputOf<S['codec']>;

/**
 * `true` when `A` and `B` describe the same records: each is assignable to
 * the other (so a field's type and whether it is optional agree) and they
 * have the same keys; else `false`. Readonly modifiers are not compared.
 *
 * @example
 * ```ts
 * import type { SameType } from './decode.ts';
 *
 * const same: SameType<{ readonly a: number; b?: string }, { a: number } & { b?: string }> = true;
 * const optionality: SameType<{ a?: number }, { a: number }> = false;
 * const extraKey: SameType<{ a: number; b?: string }, { a: number }> = false;
 * console.log(same, optionality, extraKey); // true false false
 * ```
 */
export type SameType<A, B> = [A] extends [B] ? [B] extends [A] ? [keyof A] extends [keyof B] ? [keyof B] extends [keyof A] ? true : false : false : false
  : false;

/**
 * A compile-time check, free at run time: it type-checks only when its type
 * argument is `true`. An options interface written out for its docs is
 * pinned to its option set's codec with
 * `typesAgree<SameType<FitOptions, OptionsOf<typeof FitOptionSet>>>()`,
 * so the two cannot drift apart.
 *
 * @example
 * ```ts
 * import { optionSet, type OptionsOf, PositiveInt, type SameType, typesAgree } from '../config.ts';
 *
 * const PoolOptionSet = optionSet('pool', { size: PositiveInt }, { stride: PositiveInt });
 * interface PoolOptions {
 *   readonly size: number;
 *   readonly stride?: number;
 * }
 * typesAgree<SameType<PoolOptions, OptionsOf<typeof PoolOptionSet>>>();
 * ```
 */
export const typesAgree = <_ extends true>(): void => {};

/** One option set, declared once: its codec, its keys, and its decoder. */
export interface OptionSet<A, O> {
  /** The first word of every message: `conv2d` in `conv2d.stride: ...`. */
  readonly owner: string;
  /** The codec; it refuses unknown keys itself, so it is the whole check. */
  readonly codec: t.Type<A, O, unknown>;
  /** The field names, required first. */
  readonly keys: readonly string[];
  /** Decode `value` (undefined is an empty record), or throw a ConfigError naming each bad or unknown field. */
  decode(value: unknown, owner?: string): A;
}

/** No fields, for a set with none required or none optional (`{}`, which as a type means any non-null value). */
export type NoFields = Record<never, never>;

/** What {@link optionSet} returns for required fields `R` and optional fields `P` (sets are annotated with it: JSR wants types written out). */
export interface OptionSetOf<R extends t.Props, P extends t.Props> extends OptionSet<t.TypeOf<StrictRecordC<R, P>>, t.OutputOf<StrictRecordC<R, P>>> {
  readonly codec: StrictRecordC<R, P>;
}

/**
 * Declare an option set once: required and optional fields as io-ts codecs,
 * each with its doc comment. Its TypeScript type is `OptionsOf<typeof Set>`
 * (the doc comments carry over), its keys come from the fields, and `decode`
 * refuses unknown names and ill-typed values with one ConfigError naming
 * every bad field and its value. `decode`'s `owner` renames the owner in
 * messages, for factories that share a set (`avgPool`, `maxPool`).
 *
 * @example
 * ```ts
 * import { PositiveInt } from './codecs.ts';
 *
 * // A doc comment written on a field here is the doc comment of that field of PoolOptions.
 * const PoolOptions = optionSet('pool', { size: PositiveInt }, { stride: PositiveInt });
 * type PoolOptions = OptionsOf<typeof PoolOptions>;
 * console.log(PoolOptions.keys); // [ "size", "stride" ]
 * const o: PoolOptions = PoolOptions.decode({ size: 2 }, 'avgPool');
 * try {
 *   PoolOptions.decode({ size: 2, strid: 1 }, 'avgPool');
 * } catch (e) {
 *   console.log((e as Error).message); // avgPool.strid: unknown option, got 1; did you mean stride? (known: size, stride)
 * }
 * ```
 */
export const optionSet = <R extends t.Props, P extends t.Props>(owner: string, required: R, optional: P): OptionSetOf<R, P> => {
  const codec = strictRecord('an options record', required, optional);
  return {
    owner,
    codec,
    keys: codec.keys,
    decode: (value: unknown, as: string = owner) => decodeOrThrow(as, codec, value === undefined ? {} : value),
  };
};

/**
 * Check one positional argument with a codec, or throw a ConfigError naming
 * it (and, inside a tuple or record, the item): `fanOut.n: expected positive
 * integer, got 0`.
 *
 * @example
 * ```ts
 * import { Finite } from './codecs.ts';
 *
 * console.log(decodeArg('leakyRelu.slope', Finite, 0.1)); // 0.1
 * try {
 *   decodeArg('leakyRelu.slope', Finite, NaN);
 * } catch (e) {
 *   console.log((e as Error).message); // leakyRelu.slope: expected finite number, got NaN
 * }
 * ```
 */
export const decodeArg = <A, O>(field: string, codec: t.Type<A, O, unknown>, value: unknown): A => decodeOrThrow(field, codec, value);

// ---------------------------------------------------------------------------
// Size bounds
// ---------------------------------------------------------------------------

/**
 * The most values one weight may hold: 2^28 (1 GiB of float32). A layer
 * refuses a bigger one before allocating it, as soon as its size is known.
 *
 * @example
 * ```ts
 * console.log(MAX_WEIGHT_SIZE); // 268435456
 * ```
 */
export const MAX_WEIGHT_SIZE = 2 ** 28;

/**
 * Refuse, before allocating, a weight of `shape` that holds more than
 * {@link MAX_WEIGHT_SIZE} values. `fields` are the options its size comes
 * from, each with its value and the number of axes it spans; the message
 * names the one that contributes most, and shows its value.
 *
 * @example
 * ```ts
 * checkWeightSize('conv2d', [3, 3, 16, 32], { ks: [3, 2], nf: [32, 1] }); // fine: returns
 * try {
 *   checkWeightSize('conv2d', [1e6, 1e6, 1, 2], { ks: [1e6, 2], nf: [2, 1] });
 * } catch (e) {
 *   // conv2d.ks: expected a value for which the weight holds at most 2^28 = 268435456 values, got 1000000
 *   // (a [1000000, 1000000, 1, 2] weight holds 2000000000000; refused before allocating)
 *   console.log((e as Error).message);
 * }
 * ```
 */
export const checkWeightSize = (
  owner: string,
  shape: readonly number[],
  fields: Readonly<Record<string, readonly [value: number, axes: number]>>,
): void => {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size <= MAX_WEIGHT_SIZE) return;
  const [field, [value]] = Object.entries(fields).sort(([, [a, n]], [, [b, m]]) => b ** m - a ** n)[0] ?? ['weight', [size]];
  throw new ConfigError([
    `${owner}.${field}: expected a value for which the weight holds at most 2^28 = ${MAX_WEIGHT_SIZE} values, got ${showValue(value)} ` +
    `(a [${shape.join(', ')}] weight holds ${size}; refused before allocating)`,
  ]);
};
