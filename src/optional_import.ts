/**
 * Importing an optional peer package (a native tfjs engine, tfjs-backend-webgpu,
 * Dawn) by a name that bundlers leave alone, and telling "not installed" from
 * "installed but broken".
 *
 * @module
 */

/**
 * The first line of an error's message: enough for a reason, without a stack or a loader's source.
 *
 * @example
 * ```ts
 * import { firstLine } from './optional_import.ts';
 *
 * console.log(firstLine(new Error('no binding\n    at load (x.js:1)'))); // no binding
 * ```
 */
export const firstLine = (e: unknown): string => String((e as Error)?.message ?? e).split('\n')[0];

// Node says "Cannot find package"; Deno says the import is "not a dependency".
const MISSING = /Cannot find (module|package)|ERR_MODULE_NOT_FOUND|Could not (find|resolve)|not a dependency|not in import map/;

/** What importing an optional package gave: its module, or why not (`missing` when it is simply not installed). */
export type OptionalImport<M> = { readonly module: M } | { readonly missing: boolean; readonly message: string };

/**
 * Import `pkg` if it is installed. The specifier is a variable, so that a
 * bundler neither resolves nor bundles it; in a browser it is then missing.
 *
 * @example
 * ```ts
 * import { importOptional } from './optional_import.ts';
 *
 * const r = await importOptional('no-such-package-here');
 * console.log('missing' in r && r.missing); // true
 * ```
 */
export const importOptional = async <M>(pkg: string): Promise<OptionalImport<M>> => {
  try {
    return { module: await import(/* webpackIgnore: true */ /* @vite-ignore */ pkg) as M };
  } catch (e) {
    const message = firstLine(e);
    return { missing: MISSING.test(message) && message.includes(pkg), message };
  }
};
