/**
 * Initialisation against PyTorch's and fastai's definitions, each constant
 * written from its formula here rather than taken from the library:
 *
 * - PyTorch `nn.Conv2d`/`nn.Linear` default: `kaiming_uniform_(w, a=√5)`, so
 *   U(±gain·√(3/fanIn)) with gain = √(2/(1+a²)) = √(1/3): U(±1/√fanIn); bias U(±1/√fanIn).
 * - `kaiming_uniform_(w)` (a = 0): gain √2, U(±√(6/fanIn)).
 * - `xavier_uniform_(w)`: U(±√(6/(fanIn + fanOut))), fan-out = nf·ks·ks.
 * - fastai `init_linear(conv, act, init='auto')`: `kaiming_uniform_` for ReLU,
 *   ReLU6 and leaky ReLU (and swish), `xavier_uniform_` for sigmoid and tanh,
 *   nothing (PyTorch's default stays) for no activation or another one.
 * - fastai `_get_norm`: `bn.bias.fill_(1e-3)`, `bn.weight.fill_(0 if BatchZero else 1)`.
 */
import type { tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bottleneckBlock, conv2d, convLayer, dense, disposeTree, flattenTree, prngKey, resBlock, type Tree } from '../mod.ts';

/**
 * A uniform U(±b) sample of n values: every |w| ≤ b, the largest within 7b/n of b (missed with
 * probability e^-7), and std b/√3 to four standard errors (0.447/√n relative, for a uniform).
 */
const assertUniform = (what: string, t: tf.Tensor, bound: number) => {
  const v = Array.from(t.dataSync()), n = v.length;
  const max = Math.max(...v.map(Math.abs)), std = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / n);
  assert.ok(max <= bound * (1 + 1e-6), `${what}: |w| up to ${max}, expected at most ${bound}`);
  assert.ok(max >= bound * (1 - 7 / n), `${what}: |w| only up to ${max}, expected near ${bound}`);
  const tol = 4 * 0.447 / Math.sqrt(n);
  assert.ok(Math.abs(std / (bound / Math.sqrt(3)) - 1) < tol, `${what}: std ${std}, expected ${bound / Math.sqrt(3)} (±${(tol * 100).toFixed(1)}%)`);
};

const leaf = (tree: Tree, path: string): tf.Tensor => {
  const found = flattenTree(tree).find(([p]) => p === path);
  assert.ok(found, `no param at ${path}`);
  return found[1];
};

const constant = (what: string, t: tf.Tensor, value: number) =>
  assert.ok(Array.from(t.dataSync()).every((x) => x === Math.fround(value)), `${what}: expected all ${value}`);

describe("initialisation follows PyTorch's and fastai's definitions", () => {
  test("conv2d and dense: PyTorch's default, U(±1/√fanIn) for weight and bias", () => {
    const c = conv2d({ nf: 64 }).init(prngKey(1), [8, 8, 32]); // fanIn 3·3·32
    assertUniform('conv2d.weight', c.params.weight, 1 / Math.sqrt(288));
    assertUniform('conv2d.bias', c.params.bias!, 1 / Math.sqrt(288));
    const d = dense({ nf: 300 }).init(prngKey(2), [200]);
    assertUniform('dense.weight', d.params.weight, 1 / Math.sqrt(200));
    disposeTree({ c: c.params, d: d.params });
  });

  test('convLayer before ReLU, leaky ReLU or silu: kaiming_uniform_, U(±√(6/fanIn)); BatchNorm weight 1, bias 1e-3', () => {
    for (const act of ['relu', 'leakyRelu', 'silu'] as const) {
      const { params, state } = convLayer(32, 64, { act }).init(prngKey(3), [8, 8, 32]);
      assertUniform(`${act}: conv.weight`, leaf(params, 'conv.weight'), Math.sqrt(6 / 288));
      constant(`${act}: bn.gamma`, leaf(params, 'bn.gamma'), 1);
      constant(`${act}: bn.beta`, leaf(params, 'bn.beta'), 1e-3);
      disposeTree({ params, state });
    }
  });

  test('convLayer before sigmoid or tanh: xavier_uniform_, U(±√(6/(fanIn + fanOut)))', () => {
    for (const act of ['sigmoid', 'tanh'] as const) {
      const { params, state } = convLayer(32, 64, { act }).init(prngKey(4), [8, 8, 32]);
      assertUniform(`${act}: conv.weight`, leaf(params, 'conv.weight'), Math.sqrt(6 / (288 + 576)));
      disposeTree({ params, state });
    }
  });

  test("convLayer with no activation, or gelu: PyTorch's default stays, U(±1/√fanIn); BatchZero gives weight 0, bias 1e-3", () => {
    for (const act of ['none', 'gelu'] as const) {
      const { params, state } = convLayer(32, 64, { act, bnInit: 'zero' }).init(prngKey(5), [8, 8, 32]);
      assertUniform(`${act}: conv.weight`, leaf(params, 'conv.weight'), 1 / Math.sqrt(288));
      constant(`${act}: bn.gamma`, leaf(params, 'bn.gamma'), 0);
      constant(`${act}: bn.beta`, leaf(params, 'bn.beta'), 1e-3);
      disposeTree({ params, state });
    }
  });

  test("convLayer's init option overrides 'auto': kaimingNormal, N(0, 2/fanIn), is the former default", () => {
    const { params, state } = convLayer(32, 64, { init: 'kaimingNormal' }).init(prngKey(6), [8, 8, 32]);
    const v = Array.from(leaf(params, 'conv.weight').dataSync());
    const std = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length), sigma = Math.sqrt(2 / 288);
    assert.ok(Math.abs(std / sigma - 1) < 0.03, `std ${std}, expected ${sigma}`);
    // A normal sample of 18k values reaches past 3.5σ; a uniform one of this std stops at √3σ.
    assert.ok(Math.max(...v.map(Math.abs)) > 3.5 * sigma);
    assert.throws(() => convLayer(2, 2, { init: 'he' as never }), /convLayer\.init: expected 'auto' or 'torchDefault'.*got "he"/);
    disposeTree({ params, state });
  });

  test("resBlock and bottleneckBlock: each conv as fastai's ConvLayer makes it (the book's _conv_block and ResBlock)", () => {
    const rb = resBlock(32, 64, 2).init(prngKey(7), [8, 8, 32]);
    assertUniform('resBlock convs.0 (3×3, relu)', leaf(rb.params, 'convs.0.conv.weight'), Math.sqrt(6 / 288));
    assertUniform('resBlock convs.1 (3×3, none)', leaf(rb.params, 'convs.1.conv.weight'), 1 / Math.sqrt(576));
    assertUniform('resBlock idconv (1×1, none)', leaf(rb.params, '1.idconv.conv.weight'), 1 / Math.sqrt(32));
    constant('resBlock convs.1 gamma (BatchZero)', leaf(rb.params, 'convs.1.bn.gamma'), 0);
    const bb = bottleneckBlock(64, 256, 2).init(prngKey(8), [8, 8, 64]);
    assertUniform('bottleneck convs.0 (1×1, relu)', leaf(bb.params, 'convs.0.conv.weight'), Math.sqrt(6 / 64));
    assertUniform('bottleneck convs.1 (3×3, relu)', leaf(bb.params, 'convs.1.conv.weight'), Math.sqrt(6 / 576));
    assertUniform('bottleneck convs.2 (1×1, none)', leaf(bb.params, 'convs.2.conv.weight'), 1 / Math.sqrt(64));
    constant('bottleneck convs.2 gamma (BatchZero)', leaf(bb.params, 'convs.2.bn.gamma'), 0);
    for (const [p, t] of flattenTree(bb.params)) if (p.endsWith('bn.beta')) constant(p, t, 1e-3);
    disposeTree({ a: rb.params, b: rb.state, c: bb.params, d: bb.state });
  });
});
