/**
 * The values a checkpoint's tensors may hold. An intact file (its checksum
 * agrees) can still be wrong: written by hand, by another tool, or by a bug.
 * Loading refuses values no training run produces, because resuming from
 * them fails later and far from the cause (a negative variance gives NaN
 * under `rsqrt`; a negative count breaks bias correction and schedules).
 *
 * By where a tensor lives: every float is finite; a BatchNorm running
 * variance (`state.….var`), a second moment (`opt.<link>.nu.…`, Adam's and
 * RMSProp's) and a step count (`opt.<link>.count`) are never negative; a
 * boolean is 0 or 1. The names are those of the library's own layers and
 * transforms.
 *
 * @module
 */

interface Domain {
  readonly what: string;
  readonly ok: (v: number) => boolean;
}

const nonNegative = (what: string): Domain => ({ what: `${what}, ≥ 0`, ok: (v) => v >= 0 });
const VARIANCE = nonNegative('a running variance');
const MOMENT = nonNegative('a second moment');
const COUNT = nonNegative('a step count');

/** The domain of the tensor at checkpoint path `name`, if it has one beyond finiteness. */
const domainOf = (name: string): Domain | undefined => {
  const [group, ...rest] = name.split('.');
  if (group === 'state' && rest[rest.length - 1] === 'var') return VARIANCE;
  if (group !== 'opt') return undefined;
  // The transform's state field: the first key past the chain's indices.
  const field = rest.find((k) => !/^\d+$/.test(k));
  return field === 'nu' ? MOMENT : field === 'count' ? COUNT : undefined;
};

/**
 * The first value of tensor `name` outside its domain, as a problem, or
 * undefined when every value is fine.
 *
 * @example
 * ```ts
 * import { valueProblem } from './checkpoint_values.ts';
 * console.log(valueProblem('state.bn.var', new Float32Array([1, -5]), true, false));
 * // state.bn.var: expected a running variance, ≥ 0, got -5 at index 1
 * ```
 */
export const valueProblem = (name: string, data: ArrayLike<number>, float: boolean, bool: boolean): string | undefined => {
  const domain = domainOf(name);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (float && !Number.isFinite(v)) return `${name}: holds non-finite values (${v} at index ${i})`;
    if (bool && v !== 0 && v !== 1) return `${name}: expected booleans (0 or 1), got ${v} at index ${i}`;
    if (domain && !domain.ok(v)) return `${name}: expected ${domain.what}, got ${v} at index ${i}`;
  }
  return undefined;
};
