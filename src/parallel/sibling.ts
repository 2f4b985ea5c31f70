/**
 * The URL of another module of this library, from the calling module's own
 * URL: `.ts` when the library runs from source (Deno, tsx), `.js` when it
 * runs from the built package. Worker threads and loss specs name modules by
 * URL, which the TypeScript build does not rewrite.
 *
 * @module
 */

/**
 * `relative` (written with `.ts`) resolved against `base`, with the base's extension.
 *
 * @example
 * ```ts
 * console.log(siblingModule('./worker.ts', 'file:///pkg/dist/src/parallel/data_parallel.js').href); // file:///pkg/dist/src/parallel/worker.js
 * console.log(siblingModule('./worker.ts', 'file:///pkg/src/parallel/data_parallel.ts').href); // file:///pkg/src/parallel/worker.ts
 * ```
 */
export const siblingModule = (relative: string, base: string): URL =>
  new URL(new URL(base).pathname.endsWith('.js') ? relative.replace(/\.ts$/, '.js') : relative, base);
