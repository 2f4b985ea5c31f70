// Must NOT type-check: a misspelt option (batchSzie) is a type error for consumers.
import { dataLoader, prngKey } from 'tsnn';

const ds = { x: new Uint8Array(784), y: new Int32Array(1), shape: [28, 28, 1] };
export const loader = dataLoader(ds, { batchSzie: 8, key: prngKey(1) });
