/**
 * How configuration messages show values and name codecs: `NaN` and
 * `Infinity` by name, strings quoted, codecs in plain English, and the
 * nearest known name for a misspelt option.
 *
 * @module
 */

/** Plain-English names for the refined numbers of `codecs.ts`, used in messages. */
const FRIENDLY: Record<string, string> = {
  PositiveInt: 'positive integer',
  NonNegativeInt: 'non-negative integer',
  Positive: 'positive number',
  NonNegative: 'non-negative number',
  UnitInterval: 'number in [0, 1)',
  Fraction: 'number in [0, 1]',
  Finite: 'finite number',
};

/** A codec's name in plain English: `'PositiveInt | schedule'` reads `positive integer or schedule`. */
export const friendly = (name: string): string => name.split(' | ').map((part) => FRIENDLY[part] ?? part).join(' or ');

/**
 * A value as a message shows it: strings quoted, NaN and ±Infinity by name
 * (JSON would print null), also inside lists and records; functions as
 * `a function`; tensors by dtype and shape; long values cut.
 *
 * @example
 * ```ts
 * console.log(showValue(NaN)); // NaN
 * console.log(showValue([1, Infinity])); // [1, Infinity]
 * console.log(showValue('same')); // "same"
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
export const unknownOption = (key: string, value: unknown, known: readonly string[]): string => {
  const near = known
    .map((k) => ({ k, d: k.toLowerCase() === key.toLowerCase() ? 0 : distance(k.toLowerCase(), key.toLowerCase()) }))
    .filter(({ d }) => d <= Math.max(1, Math.floor(key.length / 3)))
    .sort((a, b) => a.d - b.d)[0];
  return `unknown option, got ${showValue(value)}${near ? `; did you mean ${near.k}?` : ''} (known: ${known.length ? known.join(', ') : 'none'})`;
};

/** A plain record (not null, not an array). */
export const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u);
