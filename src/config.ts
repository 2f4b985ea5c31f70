/**
 * io-ts codecs for layer configurations and hyperparameters, and a decoder
 * that turns io-ts errors into messages naming the field and the value.
 *
 * @module
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { ConfigError } from './errors.ts';

// ---------------------------------------------------------------------------
// Refined numbers
// ---------------------------------------------------------------------------

interface PositiveIntBrand { readonly PositiveInt: unique symbol }
/**
 * An integer >= 1.
 *
 * @example
 * t.type({ stride: PositiveInt })
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
 * t.type({ padding: NonNegativeInt })
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
 * t.type({ eps: Positive })
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
 * t.type({ momentum: UnitInterval })
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
 * t.type({ shift: Finite })
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
 * t.type({ weightDecay: NonNegative })
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
 * t.type({ pctStart: Fraction })
 */
export const Fraction = t.brand(
  t.number,
  (n): n is t.Branded<number, FractionBrand> => Number.isFinite(n) && n >= 0 && n <= 1,
  'Fraction',
);

/**
 * A value that `is` accepts, named `name` in messages: for options that are
 * functions or library objects (a loss, an optimizer, a key).
 *
 * @example
 * const Loss = guard<(y: unknown, t: unknown) => unknown>('a loss function', (u) => typeof u === 'function');
 */
export const guard = <A>(name: string, is: (u: unknown) => boolean): t.Type<A, A, unknown> =>
  new t.Type<A, A, unknown>(name, (u): u is A => is(u), (u, c) => (is(u) ? t.success(u as A) : t.failure(u, c)), t.identity);

/** A schedule: a function of the optimizer step. */
export const Schedule = guard<(step: number) => number>('schedule', (u) => typeof u === 'function');

/**
 * A hyperparameter: a number that `range` accepts, or a schedule.
 *
 * @example
 * t.partial({ lr: hyper(NonNegative) })
 */
export const hyper = <C extends t.Mixed>(range: C) => t.union([range, Schedule], `${range.name} | schedule`);

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

const isCombinator = (type: t.Decoder<unknown, unknown>): boolean => {
  const tag = (type as { _tag?: string })._tag;
  return tag === 'IntersectionType' || tag === 'UnionType' || tag === 'ExactType' || tag === 'RefinementType';
};

/**
 * A value as a message shows it: strings quoted, NaN and ±Infinity by name
 * (JSON would print null), functions as `a function`, long values cut.
 *
 * @example
 * showValue(NaN) // 'NaN'
 */
export const showValue = (v: unknown): string => {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v === undefined) return String(v);
  if (typeof v === 'function') return 'a function';
  let text: string;
  try {
    text = JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : typeof x === 'function' ? 'a function' : x)) ??
      String(v);
  } catch {
    text = String(v);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/**
 * Format io-ts errors as `owner.field: expected X, got Y`, one per problem.
 *
 * @example
 * formatErrors('conv2d', errors) // ['conv2d.stride: expected positive integer, got 0']
 */
export const formatErrors = (owner: string, errors: t.Errors): string[] => {
  const lines = errors.map((e) => {
    // Intersections and unions key their members by index; those are not fields.
    const keys = e.context
      .filter((c, i) => i > 0 && !isCombinator(e.context[i - 1].type))
      .map((c) => c.key);
    // Unions report one error per member; name the union itself where it is the field's type.
    const union = e.context.find((c, i) => i > 0 && (c.type as { _tag?: string })._tag === 'UnionType');
    const last = union ?? e.context[e.context.length - 1];
    const path = [owner, ...keys].join('.');
    return `${path}: expected ${friendly(last?.type.name ?? 'value')}, got ${showValue(e.value)}`;
  });
  return [...new Set(lines)];
};

/**
 * Decode `value` with `codec`, or throw a ConfigError naming each bad field.
 *
 * @example
 * decodeOrThrow('conv2d', t.type({ stride: PositiveInt }), { stride: 0 })
 * // throws ConfigError: conv2d.stride: expected positive integer, got 0
 */
export const decodeOrThrow = <A, O>(owner: string, codec: t.Type<A, O, unknown>, value: unknown): A => {
  const result = codec.decode(value);
  if (isLeft(result)) throw new ConfigError(formatErrors(owner, result.left));
  return result.right;
};

/**
 * An exact record codec with required and optional fields: unknown fields are
 * rejected by name, since a misspelt option is a silent bug otherwise.
 *
 * @example
 * const Codec = options('pool', { size: PositiveInt }, { stride: PositiveInt });
 */
export const options = <R extends t.Props, O extends t.Props>(name: string, required: R, optional: O) =>
  t.exact(t.intersection([t.type(required), t.partial(optional)], name));

/**
 * Decode options, also rejecting fields the codec does not know.
 *
 * @example
 * decodeOptions('pool', Codec, ['size', 'stride'], { size: 2 })
 */
export const decodeOptions = <A, O>(
  owner: string,
  codec: t.Type<A, O, unknown>,
  known: readonly string[],
  value: unknown,
): A => {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new ConfigError([`${owner}: expected an options record, got ${showValue(value)}`]);
  }
  const unknownKeys = Object.keys(value ?? {}).filter((k) => !known.includes(k));
  if (unknownKeys.length) {
    throw new ConfigError(unknownKeys.map((k) => `${owner}.${k}: unknown option (known: ${known.join(', ')})`));
  }
  return decodeOrThrow(owner, codec, value ?? {});
};

/** An option set's TypeScript type: what a caller writes (plain numbers, no brands). */
export type OptionsOf<S extends { readonly codec: t.Mixed }> = t.OutputOf<S['codec']>;

/** One option set, declared once: its codec, its keys, and its decoder. */
export interface OptionSet<A, O> {
  readonly owner: string;
  readonly codec: t.Type<A, O, unknown>;
  readonly keys: readonly string[];
  /** Decode `value` (undefined is an empty record), or throw a ConfigError naming each bad or unknown field. */
  decode(value: unknown, owner?: string): A;
}

/**
 * Declare an option set once: required and optional fields as io-ts codecs.
 * Its TypeScript type is `OptionsOf<typeof Set>` (doc comments on the fields
 * carry over), its keys come from the fields, and `decode` rejects unknown
 * names and ill-typed values with a ConfigError.
 *
 * @example
 * const PoolOptions = optionSet('pool', { size: PositiveInt }, { stride: PositiveInt });
 * type PoolOptions = OptionsOf<typeof PoolOptions>;
 * const o = PoolOptions.decode({ size: 2 });
 */
export const optionSet = <R extends t.Props, P extends t.Props>(owner: string, required: R, optional: P) => {
  const codec = options(owner, required, optional);
  const keys = [...Object.keys(required), ...Object.keys(optional)];
  return {
    owner,
    codec,
    keys,
    decode: (value: unknown, as: string = owner) => decodeOptions(as, codec, keys, value),
  } satisfies OptionSet<t.TypeOf<typeof codec>, t.OutputOf<typeof codec>>;
};

/**
 * Check one positional argument with a codec, or throw a ConfigError naming it.
 *
 * @example
 * const lr = decodeArg('sgd.lr', hyper(NonNegative), 0.1);
 */
export const decodeArg = <A, O>(field: string, codec: t.Type<A, O, unknown>, value: unknown): A => {
  const result = codec.decode(value);
  if (isLeft(result)) throw new ConfigError([`${field}: expected ${friendly(codec.name)}, got ${showValue(value)}`]);
  return result.right;
};
