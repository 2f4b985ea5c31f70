import { assertClose } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { combinedCos, combineScheds, flatCos, oneCycle, perStep, schedCos, schedExp, schedLin, schedNo, warmup } from '../mod.ts';

const cos = (start: number, end: number, pos: number) => start + (1 + Math.cos(Math.PI * (1 - pos))) * (end - start) / 2;

describe('schedules', () => {
  test('basic schedules at known positions', () => {
    assertClose([schedLin(1, 3)(0), schedLin(1, 3)(0.5), schedLin(1, 3)(1)], [1, 2, 3], 1e-12);
    assertClose([schedCos(1, 0)(0), schedCos(1, 0)(0.5), schedCos(1, 0)(1)], [1, 0.5, 0], 1e-12);
    assertClose([schedExp(1e-7, 10)(0), schedExp(1e-7, 10)(0.5), schedExp(1e-7, 10)(1)], [1e-7, Math.sqrt(1e-7 * 10), 10], 1e-12);
    assert.equal(schedNo(4)(0.3), 4);
    assert.throws(() => schedExp(0, 1), /schedExp.start: expected positive number, got 0/);
  });

  test('combinedCos follows the closed form on both sides of pct', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (pos) => {
      const f = combinedCos(0.25, 0.1, 1, 1e-4);
      const expected = pos < 0.25 ? cos(0.1, 1, pos / 0.25) : cos(1, 1e-4, (pos - 0.25) / 0.75);
      return Math.abs(f(pos) - expected) < 1e-12;
    }));
  });

  test("oneCycle uses fastai's defaults", () => {
    const { lr, mom } = oneCycle({ lrMax: 3e-3 });
    assertClose([lr(0), lr(0.25), lr(1)], [3e-3 / 25, 3e-3, 3e-3 / 1e5], 1e-15);
    assertClose([mom(0), mom(0.25), mom(1)], [0.95, 0.85, 0.95], 1e-12);
    assertClose([lr(0.125)], [cos(3e-3 / 25, 3e-3, 0.5)], 1e-15);
    assertClose([lr(0.625)], [cos(3e-3, 3e-8, 0.5)], 1e-15);
  });

  test('combineScheds picks segments as fastai does and validates its fractions', () => {
    const f = combineScheds([0.5, 0.5], [schedLin(0, 1), schedLin(10, 20)]);
    assertClose([f(0), f(0.25), f(0.5), f(0.75), f(1)], [0, 0.5, 10, 15, 20], 1e-12);
    assert.throws(() => combineScheds([0.5, 0.6], [schedNo(1), schedNo(2)]), /expected non-negative fractions summing to 1/);
    assert.throws(() => combineScheds([1], [schedNo(1), schedNo(2)]), /as many fractions as schedules/);
  });

  test('flatCos and warmup', () => {
    assertClose([flatCos(1)(0), flatCos(1)(0.75), flatCos(1)(0.875), flatCos(1)(1)], [1, 1, 0.5, 0], 1e-12);
    const w = warmup(0.1, schedCos(1, 0));
    assertClose([w(0), w(0.05), w(0.1), w(1)], [0, 0.5, 1, 0], 1e-12);
  });

  test('perStep evaluates at step / total, as fastai', () => {
    const s = perStep(schedLin(0, 1), 4);
    assertClose([s(0), s(1), s(3), s(10)], [0, 0.25, 0.75, 1], 1e-12);
    assert.throws(() => perStep(schedNo(1), 0), /perStep.totalSteps: expected positive integer, got 0/);
  });
});
