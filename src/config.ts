/**
 * Options and hyperparameters, declared once as io-ts codecs and checked on
 * one path.
 *
 * An option set is one codec, built with {@link optionSet}; its TypeScript type
 * ({@link OptionsOf}, with the doc comments written on its fields) and its key
 * list are derived from it. Decoding refuses unknown option names and
 * ill-typed values with a `ConfigError` naming each field and value:
 * `conv2d.stride: expected positive integer, got 0`,
 * `dataLoader.scale: expected finite number, got NaN`,
 * `adamW.weightdecay: unknown option, got 0.1; did you mean weightDecay? (known: ...)`.
 * Positional arguments take the same path through {@link decodeArg}.
 *
 * @module
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { ConfigError } from './errors.ts';
import { isKey, type Key } from './random.ts';

// ---------------------------------------------------------------------------
// Refined numbers
// ---------------------------------------------------------------------------

interface PositiveIntBrand { readonly PositiveInt: unique symbol }
/**
 * An integer >= 1.
 *
 * @example
 * ```ts
 * PositiveInt.is(3); // true
 * PositiveInt.is(2.5); // false
 * ```
 */
export const PositiveInt = t.brand(
  t.number,
  (n): n is t.Branded<number, PositiveIntBrand> => Number.isInteger(n) && n >= 1,
  'PositiveInt',
);

interface NonNegativeIntBrand { readonly NonNegativeInt: unique symbol }
/**
 * An integer >= 0.
 *
 * @example
 * ```ts
 * NonNegativeInt.is(0); // true
 * ```
 */
export const NonNegativeInt = t.brand(
  t.number,
  (n): n is t.Branded<number, NonNegativeIntBrand> => Number.isInteger(n) && n >= 0,
  'NonNegativeInt',
);

interface PositiveBrand { readonly Positive: unique symbol }
/**
 * A finite number > 0.
 *
 * @example
 * ```ts
 * Positive.is(1e-5); // true
 * Positive.is(Infinity); // false
 * ```
 */
export const Positive = t.brand(
  t.number,
  (n): n is t.Branded<number, PositiveBrand> => Number.isFinite(n) && n > 0,
  'Positive',
);

interface UnitIntervalBrand { readonly UnitInterval: unique symbol }
/**
 * A number in [0, 1).
 *
 * @example
 * ```ts
 * UnitInterval.is(0.9); // true
 * UnitInterval.is(1); // false
 * ```
 */
export const UnitInterval = t.brand(
  t.number,
  (n): n is t.Branded<number, UnitIntervalBrand> => Number.isFinite(n) && n >= 0 && n < 1,
  'UnitInterval',
);

interface FiniteBrand { readonly Finite: unique symbol }
/**
 * Any finite number.
 *
 * @example
 * ```ts
 * Finite.is(NaN); // false
 * ```
 */
export const Finite = t.brand(
  t.number,
  (n): n is t.Branded<number, FiniteBrand> => Number.isFinite(n),
  'Finite',
);

interface NonNegativeBrand { readonly NonNegative: unique symbol }
/**
 * A finite number >= 0.
 *
 * @example
 * ```ts
 * NonNegative.is(0); // true
 * ```
 */
export const NonNegative = t.brand(
  t.number,
  (n): n is t.Branded<number, NonNegativeBrand> => Number.isFinite(n) && n >= 0,
  'NonNegative',
);

interface FractionBrand { readonly Fraction: unique symbol }
/**
 * A number in [0, 1].
 *
 * @example
 * ```ts
 * Fraction.is(1); // true
 * ```
 */
export const Fraction = t.brand(
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
 * const Loss = guard<(y: unknown, t: unknown) => unknown>('a loss function', (u) => typeof u === 'function');
 * Loss.is(() => 0); // true
 * ```
 */
export const guard = <A>(name: string, is: (u: unknown) => boolean): t.Type<A, A, unknown> =>
  new t.Type<A, A, unknown>(name, (u): u is A => is(u), (u, c) => (is(u) ? t.success(u as A) : t.failure(u, c)), t.identity);

/**
 * A schedule: a function of the optimizer step.
 *
 * @example
 * ```ts
 * Schedule.is((step: number) => 0.1 / (step + 1)); // true
 * ```
 */
export const Schedule = guard<(step: number) => number>('schedule', (u) => typeof u === 'function');

/**
 * A PRNG key, as `prngKey(seed)` makes: two uint32 words.
 *
 * @example
 * ```ts
 * PrngKey.is([0, 1]); // true
 * PrngKey.is('seed'); // false
 * ```
 */
export const PrngKey: t.Type<Key, Key, unknown> = guard<Key>('a PRNG key (prngKey(seed))', isKey);

/**
 * A hyperparameter: a number that `range` accepts, or a schedule. Its
 * TypeScript type is `number | ((step: number) => number)`, the optimizers'
 * `Hyper`.
 *
 * @example
 * ```ts
 * const lr = decodeArg('sgd.lr', hyper(NonNegative), 0.1);
 * // decodeArg('sgd.lr', hyper(NonNegative), NaN) throws
 * // ConfigError: sgd.lr: expected non-negative number or schedule, got NaN
 * ```
 */
export const hyper = <C extends t.Mixed>(range: C) => t.union([range, Schedule], `${range.name} | schedule`);

/**
 * A read-only tuple of exactly `codecs.length` items. (io-ts's `t.tuple`
 * drops extra items silently: `[1, 2, 3]` would pass as `[1, 2]`.)
 *
 * @example
 * ```ts
 * const Size = tupleOf([PositiveInt, PositiveInt], '[height, width]');
 * Size.is([8, 8]); // true
 * Size.is([8, 8, 8]); // false
 * ```
 */
export const tupleOf = <const C extends readonly t.Mixed[]>(
  codecs: C,
  name = `[${codecs.map((c) => friendly(c.name)).join(', ')}]`,
): t.Type<{ readonly [I in keyof C]: t.TypeOf<C[I]> }, { readonly [I in keyof C]: t.OutputOf<C[I]> }, unknown> => {
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

/** Edit distance with transpositions (`sdt` is one edit from `std`), for the "did you mean" of a misspelt option. */
const distance = (a: string, b: string): number => {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
};

/** The message for an option nobody declared, with the nearest known name. */
const unknownOption = (key: string, value: unknown, known: readonly string[]): string => {
  const near = known
    .map((k) => ({ k, d: k.toLowerCase() === key.toLowerCase() ? 0 : distance(k.toLowerCase(), key.toLowerCase()) }))
    .filter(({ d }) => d <= Math.max(1, Math.floor(key.length / 3)))
    .sort((a, b) => a.d - b.d)[0];
  return `unknown option, got ${showValue(value)}${near ? `; did you mean ${near.k}?` : ''} (known: ${known.length ? known.join(', ') : 'none'})`;
};

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u);

/** The io-ts record that {@link strictRecord} refines: its TypeScript types are this one's. */
type RecordC<R extends t.Props, O extends t.Props> = t.ExactC<t.IntersectionC<[t.TypeC<R>, t.PartialC<O>]>>;

/**
 * A record codec with required and optional fields that refuses every other
 * key by name (io-ts's `t.exact` drops them silently, and a misspelt option is
 * a silent bug). Option sets use it, and so do records nested in options
 * (`normalize: { mean, std }`), so these are exact too.
 *
 * @example
 * ```ts
 * import * as t from 'io-ts';
 * const Normalize = strictRecord('{ mean, std }', { mean: t.readonlyArray(Finite), std: t.readonlyArray(Positive) }, {});
 * Normalize.is({ mean: [0.5], std: [0.25] }); // true
 * // decodeOrThrow('dataLoader.normalize', Normalize, { mean: [0], std: [1], sdt: [1] }) throws ConfigError:
 * // dataLoader.normalize.sdt: unknown option, got [1]; did you mean std? (known: mean, std)
 * ```
 */
export const strictRecord = <R extends t.Props, O extends t.Props>(
  name: string,
  required: R,
  optional: O,
): t.Type<t.TypeOf<RecordC<R, O>>, t.OutputOf<RecordC<R, O>>, unknown> & { readonly keys: readonly string[] } => {
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

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/** Plain-English names for the codecs above, used in messages. */
const FRIENDLY: Record<string, string> = {
  PositiveInt: 'positive integer',
  NonNegativeInt: 'non-negative integer',
  Positive: 'positive number',
  NonNegative: 'non-negative number',
  UnitInterval: 'number in [0, 1)',
  Fraction: 'number in [0, 1]',
  Finite: 'finite number',
};

const friendly = (name: string): string =>
  name.split(' | ').map((part) => FRIENDLY[part] ?? part).join(' or ');

const tagOf = (type: t.Decoder<unknown, unknown>): string => (type as { _tag?: string })._tag ?? '';

/** Wrappers that validate with their parent's context: the keys under them are their inner codec's. */
const WRAPPERS = new Set(['ExactType', 'ReadonlyType', 'RefinementType', 'StrictType']);

/** True when the codec that appended a context entry under `parent` keys its members by index (not a field). */
const byMember = (parent: t.Decoder<unknown, unknown>): boolean => {
  let core = parent as t.Decoder<unknown, unknown> & { type?: t.Decoder<unknown, unknown> };
  while (WRAPPERS.has(tagOf(core)) && core.type) core = core.type as typeof core;
  return tagOf(core) === 'IntersectionType' || tagOf(core) === 'UnionType';
};

/**
 * A value as a message shows it: strings quoted, NaN and ±Infinity by name
 * (JSON would print null), also inside lists and records; functions as
 * `a function`; tensors by dtype and shape; long values cut.
 *
 * @example
 * ```ts
 * showValue(NaN); // 'NaN'
 * showValue([1, Infinity]); // '[1, Infinity]'
 * showValue('same'); // '"same"'
 * ```
 */
export const showValue = (v: unknown): string => {
  const text = show(v, 0);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

const show = (v: unknown, depth: number): string => {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'a function';
  if (v === null || typeof v !== 'object') return String(v);
  const tensor = v as { dtype?: unknown; shape?: unknown };
  if (typeof tensor.dtype === 'string' && Array.isArray(tensor.shape)) return `a ${tensor.dtype} tensor [${tensor.shape.join(', ')}]`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<unknown>).length ?? v.byteLength})`;
  if (depth > 3) return Array.isArray(v) ? '[...]' : '{...}';
  if (Array.isArray(v)) return `[${v.map((x) => show(x, depth + 1)).join(', ')}]`;
  const entries = Object.entries(v);
  return entries.length ? `{ ${entries.map(([k, x]) => `${k}: ${show(x, depth + 1)}`).join(', ')} }` : '{}';
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
 * const r = t.type({ stride: PositiveInt }).decode({ stride: 0 });
 * if (isLeft(r)) formatErrors('conv2d', r.left); // ['conv2d.stride: expected positive integer, got 0']
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
 * const { stride } = decodeOrThrow('conv2d', t.type({ stride: PositiveInt }), { stride: 2 });
 * // with { stride: 0 }: ConfigError: conv2d.stride: expected positive integer, got 0
 * ```
 */
export const decodeOrThrow = <A, O>(owner: string, codec: t.Type<A, O, unknown>, value: unknown): A => {
  const result = codec.decode(value);
  if (isLeft(result)) throw new ConfigError(formatErrors(owner, result.left));
  return result.right;
};

/**
 * An exact record codec with required and optional fields.
 *
 * @deprecated Use {@link optionSet} (or {@link strictRecord} for a nested
 * record): `t.exact` drops unknown fields silently, so this codec refuses
 * them only through {@link decodeOptions}.
 *
 * @example
 * ```ts
 * const Codec = options('pool', { size: PositiveInt }, { stride: PositiveInt });
 * ```
 */
export const options = <R extends t.Props, O extends t.Props>(name: string, required: R, optional: O) =>
  t.exact(t.intersection([t.type(required), t.partial(optional)], name));

/**
 * Decode options, also refusing fields the codec does not know.
 *
 * @deprecated Use `optionSet(...).decode(value)`.
 *
 * @example
 * ```ts
 * const Codec = options('pool', { size: PositiveInt }, { stride: PositiveInt });
 * decodeOptions('pool', Codec, ['size', 'stride'], { size: 2 });
 * ```
 */
export const decodeOptions = <A, O>(
  owner: string,
  codec: t.Type<A, O, unknown>,
  known: readonly string[],
  value: unknown,
): A => {
  if (value !== undefined && !isRecord(value)) {
    throw new ConfigError([`${owner}: expected an options record, got ${showValue(value)}`]);
  }
  const unknownKeys = Object.keys(value ?? {}).filter((k) => !known.includes(k));
  if (unknownKeys.length) {
    throw new ConfigError(unknownKeys.map((k) => `${owner}.${k}: ${unknownOption(k, (value as Record<string, unknown>)[k], known)}`));
  }
  return decodeOrThrow(owner, codec, value ?? {});
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
 * const PoolOptions = optionSet('pool', { size: PositiveInt }, { stride: PositiveInt });
 * type PoolOptions = OptionsOf<typeof PoolOptions>; // { size: number } & { stride?: number }
 * const o: PoolOptions = { size: 2 };
 * ```
 */
export type OptionsOf<S extends { readonly codec: t.Mixed }> = t.OutputOf<S['codec']>;

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
 * // A doc comment written on a field here is the doc comment of that field of PoolOptions.
 * const PoolOptions = optionSet('pool', { size: PositiveInt }, { stride: PositiveInt });
 * type PoolOptions = OptionsOf<typeof PoolOptions>;
 * PoolOptions.keys; // ['size', 'stride']
 * const o = PoolOptions.decode({ size: 2 }, 'avgPool');
 * // PoolOptions.decode({ size: 2, strid: 1 }, 'avgPool') throws
 * // ConfigError: avgPool.strid: unknown option, got 1; did you mean stride? (known: size, stride)
 * ```
 */
export const optionSet = <R extends t.Props, P extends t.Props>(owner: string, required: R, optional: P) => {
  const codec = strictRecord('an options record', required, optional);
  return {
    owner,
    codec,
    keys: codec.keys,
    decode: (value: unknown, as: string = owner) => decodeOrThrow(as, codec, value === undefined ? {} : value),
  } satisfies OptionSet<t.TypeOf<typeof codec>, t.OutputOf<typeof codec>>;
};

/**
 * Check one positional argument with a codec, or throw a ConfigError naming
 * it (and, inside a tuple or record, the item): `fanOut.n: expected positive
 * integer, got 0`.
 *
 * @example
 * ```ts
 * const slope = decodeArg('leakyRelu.slope', Finite, 0.1);
 * // decodeArg('leakyRelu.slope', Finite, NaN) throws ConfigError: leakyRelu.slope: expected finite number, got NaN
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
 * MAX_WEIGHT_SIZE; // 268435456
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
 * checkWeightSize('conv2d', [3, 3, 16, 32], { ks: [3, 2], nf: [32, 1] }); // fine
 * // checkWeightSize('conv2d', [1e6, 1e6, 1, 2], { ks: [1e6, 2], nf: [2, 1] }) throws ConfigError:
 * // conv2d.ks: expected a value for which the weight holds at most 2^28 = 268435456 values, got 1000000
 * //   (a [1000000, 1000000, 1, 2] weight holds 2000000000000; refused before allocating)
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
