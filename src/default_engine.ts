/**
 * Wires the loop's default engine: when training starts and no backend was
 * chosen, `selectBackend()` chooses one (the native engine where installed,
 * a hardware GPU, else wasm on every core). Imported by `mod.ts` for this
 * effect only; the engine itself is installed when training first runs, not
 * on import.
 *
 * @module
 */
import { provideDefaultEngine } from './engine_choice.ts';
import { selectBackend } from './backend/select.ts';

provideDefaultEngine(() => selectBackend());
