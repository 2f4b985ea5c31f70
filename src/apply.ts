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
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batchNorm, dense, disposeTree, forward, prngKey, serial } from 'tsnn';
 *
 * const model = serial(dense({ nf: 4 }), batchNorm());
 * const { params, state } = model.init(prngKey(0), [3]);
 * const x = tf.ones([2, 3]);
 * const before = tf.memory().numTensors;
 * const { y, state: next } = forward(model, params, state, x, { training: true });
 * console.log((y as tf.Tensor).shape); // [ 2, 4 ]
 * console.log(tf.memory().numTensors - before); // 3
 * disposeTree({ params, state, x, y: y as tf.Tensor, next });
 * ```
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
  /** The layer's dotted path in the model (`1.convs.0`). */
  readonly path: string;
  /** The layer's kind (`conv2d`). */
  readonly layer: string;
  /** Its per-example output shape. */
  readonly outShape: FlowShape;
  /** How many scalars its params hold, children included. */
  readonly params: number;
}

const isPrimitive = (name: string): boolean => !['serial', 'parallel', 'add', 'fanOut'].includes(name);

/**
 * The layers of a model with their output shapes and parameter counts,
 * found by one evaluation-mode forward pass on zeros at batch 1.
 *
 * @example
 * ```ts
 * import { dense, flatten, relu, serial, summary } from 'tsnn';
 *
 * const s = summary(serial(flatten, dense({ nf: 8 }), relu, dense({ nf: 2 })), [4, 4, 1]);
 * console.log(s.total, s.outShape); // 154 [ 2 ]
 * console.log(s.rows.map((r) => `${r.path} ${r.layer} ${r.params}`)); // [ "0 flatten 0", "1 dense 136", "2 relu 0", "3 dense 18" ]
 * ```
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
 * ```ts
 * import { dense, flatten, formatSummary, relu, serial, summary } from 'tsnn';
 *
 * console.log(formatSummary(summary(serial(flatten, dense({ nf: 8 }), relu, dense({ nf: 2 })), [4, 4, 1])));
 * // path  layer    output   params
 * // 0     flatten  [*, 16]       0
 * // 1     dense    [*, 8]      136
 * // 2     relu     [*, 8]        0
 * // 3     dense    [*, 2]       18
 * // total params: 154
 * ```
 */
export const formatSummary = (s: ReturnType<typeof summary>): string => {
  const shape = (o: FlowShape) => (o.length > 0 && Array.isArray(o[0]) ? (o as Shape[]).map((x) => showShape(x)).join(' ') : showShape(o as Shape));
  const table = [['path', 'layer', 'output', 'params'], ...s.rows.map((r) => [r.path, r.layer, shape(r.outShape), r.params.toLocaleString('en-US')])];
  const widths = table[0].map((_, j) => Math.max(...table.map((row) => row[j].length)));
  const lines = table.map((row) => row.map((c, j) => (j === 3 ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  '));
  return [...lines, `total params: ${s.total.toLocaleString('en-US')}`].join('\n');
};
