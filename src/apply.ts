/**
 * Running layers: a leak-free forward pass, and a model summary.
 *
 * @module
 */
import * as tf from './tfjs/tf.ts';
import { showShape } from './errors.ts';
import type { AnyLayer, Ctx, Flow, FlowShape, Shape } from './layer.ts';
import { prngKey } from './random.ts';
import { countParams, disposeTree, flattenTree, type Tree } from './tree.ts';

/**
 * Apply a layer inside `tf.tidy`: the output and the new state are the only
 * tensors left behind (state leaves passed through unchanged are the caller's).
 *
 * @example
 * const { y, state: next } = forward(model, params, state, x, { training: false });
 */
export const forward = <P extends Tree, S extends Tree>(
  layer: { apply(params: P, state: S, x: Flow, ctx: Ctx): { y: Flow; state: S } },
  params: P,
  state: S,
  x: Flow,
  ctx: Ctx,
): { y: Flow; state: S } =>
  tf.tidy(() => {
    const r = layer.apply(params, state, x, ctx);
    return { y: r.y as tf.Tensor | tf.Tensor[], state: r.state as unknown as tf.Tensor };
  }) as unknown as { y: Flow; state: S };

/** One row of a {@link summary}. */
export interface SummaryRow {
  readonly path: string;
  readonly layer: string;
  readonly outShape: FlowShape;
  readonly params: number;
}

const isPrimitive = (name: string): boolean => !['serial', 'parallel', 'add', 'fanOut'].includes(name);

/**
 * The layers of a model with their output shapes and parameter counts,
 * found by one evaluation-mode forward pass on zeros at batch 1.
 *
 * @example
 * console.log(formatSummary(summary(resNet({ nIn: 1, nClasses: 10 }), [28, 28, 1])));
 */
export const summary = (layer: AnyLayer, inShape: Shape): { rows: SummaryRow[]; total: number; outShape: FlowShape } => {
  const { params, state, outShape } = layer.init(prngKey(0), inShape);
  const rows: SummaryRow[] = [];
  const counts = new Map<string, number>();
  for (const [path, t] of flattenTree(params)) {
    const parts = path.split('.');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('.');
      counts.set(prefix, (counts.get(prefix) ?? 0) + t.size);
    }
  }
  tf.tidy(() => {
    layer.apply(params, state, tf.zeros([1, ...inShape]), {
      training: false,
      path: [],
      observe: (path, name, y) => {
        const p = path.join('.');
        const shape = Array.isArray(y) ? (y as tf.Tensor[]).map((t) => t.shape.slice(1)) : (y as tf.Tensor).shape.slice(1);
        rows.push({ path: p, layer: name, outShape: shape, params: counts.get(p) ?? 0 });
      },
    });
  });
  const total = countParams(params);
  disposeTree(params);
  disposeTree(state);
  return { rows: rows.filter((r) => isPrimitive(r.layer)), total, outShape };
};

/**
 * Format a summary as an aligned table.
 *
 * @example
 * console.log(formatSummary(summary(model, [28, 28, 1])));
 */
export const formatSummary = (s: ReturnType<typeof summary>): string => {
  const shape = (o: FlowShape) => (o.length > 0 && Array.isArray(o[0]) ? (o as Shape[]).map((x) => showShape(x)).join(' ') : showShape(o as Shape));
  const table = [['path', 'layer', 'output', 'params'], ...s.rows.map((r) => [r.path, r.layer, shape(r.outShape), r.params.toLocaleString('en-US')])];
  const widths = table[0].map((_, j) => Math.max(...table.map((row) => row[j].length)));
  const lines = table.map((row) => row.map((c, j) => (j === 3 ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  '));
  return [...lines, `total params: ${s.total.toLocaleString('en-US')}`].join('\n');
};
