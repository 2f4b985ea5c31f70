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

/** Plain-English names for the codecs above, used in messages. */
const FRIENDLY: Record<string, string> = {
  PositiveInt: 'positive integer',
  NonNegativeInt: 'non-negative integer',
  Positive: 'positive number',
  UnitInterval: 'number in [0, 1)',
  Finite: 'finite number',
};

const friendly = (name: string): string => FRIENDLY[name] ?? name;

const isCombinator = (type: t.Decoder<unknown, unknown>): boolean => {
  const tag = (type as { _tag?: string })._tag;
  return tag === 'IntersectionType' || tag === 'UnionType' || tag === 'ExactType' || tag === 'RefinementType';
};

const showValue = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
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
    // Unions report one error per member; name the innermost named type.
    const last = e.context[e.context.length - 1];
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
