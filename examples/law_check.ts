// The README's example, kept in sync by test/readme.test.ts.
import fc from 'fast-check';
import { add, avgPool, convLayer, identity, relu, serial, withLabel } from '../mod.ts';
import * as laws from '../laws.ts';

// fastai's ResBlock, written out: relu(convs(x) + idconv(pool(x))).
const myBlock = (ni: number, nf: number, stride: number) => {
  const convs = withLabel('convs', serial(convLayer(ni, nf, { stride }), convLayer(nf, nf, { act: 'none', bnInit: 'zero' })));
  const idconv = withLabel('idconv', ni === nf ? identity : convLayer(ni, nf, { ks: 1, act: 'none' }));
  const pool = withLabel('pool', stride === 1 ? identity : avgPool({ size: 2, ceilMode: true }));
  return relu(add(convs, serial(pool, idconv)));
};

const cases = fc.record({ h: fc.integer({ min: 1, max: 9 }), s: fc.constantFrom(1, 2), seed: fc.nat() })
  .map(({ h, s, seed }) => ({ layer: myBlock(3, 8, s), inShape: [h, h, 3], batch: 2, seed }));
await fc.assert(laws.shapeProperty(cases), { numRuns: 20 }); // apply's shape == init's outShape
await fc.assert(laws.gradientProperty(cases), { numRuns: 10 }); // autodiff == finite differences
// fastai's residual invariants: output shape, relu(shortcut(x) + b) at init (b: the last BatchNorm's bias), relu(x + b) for ni == nf, the shortcut is used.
await fc.assert(laws.residualProperty(myBlock), { numRuns: 10 });
