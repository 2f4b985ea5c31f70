/**
 * Options and hyperparameters, declared once as io-ts codecs and checked on
 * one path.
 *
 * An option set is one codec, built with {@link optionSet}; its TypeScript type
 * ({@link OptionsOf}, with the doc comments written on its fields) and its key
 * list are derived from it. Decoding refuses unknown option names and
 * ill-typed values with a `ConfigError` naming each field and value:
 * `conv2d.stride: expected positive integer, got 0`,
 * `dataLoader.scale: expected finite number, got NaN`,
 * `adamW.weightdecay: unknown option, got 0.1; did you mean weightDecay? (known: ...)`.
 * Positional arguments take the same path through {@link decodeArg}.
 *
 * @module
 */
export * from './config/codecs.ts';
export * from './config/decode.ts';
export { showValue } from './config/messages.ts';
