/**
 * Callbacks: how code that needs the train state (checkpoint savers, say)
 * extends `fit` without `fit` knowing it. Observers see numbers; callbacks
 * also see the state, which they may read but must neither keep nor dispose.
 *
 * @module
 */
import type { NonFinite } from './finite.ts';
import type { EpochRow } from './observers.ts';
import type { TrainState } from './step.ts';

/** Where training diverged: the step that went bad, its epoch and loss, and the tensors it left non-finite. */
export interface Divergence {
  /** The step counter before the step that diverged. */
  readonly step: number;
  /** Its epoch, 0-based. */
  readonly epoch: number;
  /** Its loss, finite or not. */
  readonly loss: number;
  /** First the tensor the step made first; empty when only the loss was non-finite. */
  readonly tensors: readonly NonFinite[];
}

/** What a callback may ask of `fit` after an epoch: to stop, with the reason `fit` reports. */
export interface StopTraining {
  /** Why, e.g. `No improvement in validLoss since epoch 3: early stopping`. */
  readonly stop: string;
}

/** Hooks that `fit` calls with the train state. */
export interface Callback {
  /** Once, before the first step (state kept across fits is reset here). */
  onTrainBegin?(): void;
  /**
   * After each epoch's evaluation, with the state after it. Returning
   * `{ stop }` ends `fit` after this epoch (every callback still sees it).
   */
  onEpochEnd?(row: EpochRow, trainState: TrainState): void | StopTraining | Promise<void | StopTraining>;
  /**
   * When a step diverges (a non-finite loss, or a NaN or infinity left in
   * the state), with the last good state. A returned
   * string is added to the `DivergenceError`'s message (where it was saved, say).
   */
  onDivergence?(lastGood: TrainState, where: Divergence): string | void | Promise<string | void>;
}
