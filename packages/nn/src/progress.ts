import { argError } from '@cosinekit/core/backend';
import { checkObject, promised } from './check.js';
import type { TrainCallbacks } from './train.js';

/**
 * Where progress goes: anything with `write` (a Node stream, a web stream's writer) and optionally
 * `isTTY`. A `write` that answers a promise is not waited for (a display must not hold training:
 * a web stream nobody reads never settles its writes); one that rejects fails `train` at the next
 * progress line with `INVALID_ARGUMENT` naming `callbacks`, as a `write` that throws does.
 */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Options of {@link progressCallbacks}. */
export interface ProgressOptions {
  /** Defaults to `process.stderr` where there is one. */
  stream?: ProgressStream;
  /** A prefix for every line, e.g. the backend's name. */
  label?: string;
}

/**
 * A terminal progress display as training callbacks. On a TTY one line is rewritten in place
 * while an epoch runs (batch count and running loss); elsewhere (CI logs, pipes) only one line
 * per epoch is printed, so logs stay readable. No dependencies.
 */
export function progressCallbacks(options: ProgressOptions = {}): TrainCallbacks {
  options = checkObject('progressCallbacks', 'options', options, true, ['stream', 'label']);
  const given = options.stream;
  if (
    given !== undefined &&
    (typeof given !== 'object' || given === null || typeof given.write !== 'function')
  )
    argError(
      'INVALID_TYPE',
      'progressCallbacks',
      'options.stream',
      'must have a write(text) method (a Node stream).',
    );
  if (options.label !== undefined && typeof options.label !== 'string')
    argError(
      'INVALID_TYPE',
      'progressCallbacks',
      'options.label',
      `must be a string, got ${typeof options.label}.`,
    );
  const proc = (globalThis as { process?: { stderr?: ProgressStream } }).process;
  const stream = options.stream ?? proc?.stderr;
  if (!stream) return {};
  const tty = stream.isTTY === true;
  const prefix = options.label ? `[${options.label}] ` : '';
  /** The first write that failed later (its promise rejected), for the next hook to report. */
  let failed: { error: unknown } | undefined;
  /**
   * Reports a failed earlier write, then handles what `write` answered now: a promise (a web
   * stream writer's) is not returned for `train` to wait on, but its rejection is kept for the
   * next line (dropped, it ended the process).
   */
  const wrote = (write: () => unknown): void => {
    if (failed) throw failed.error;
    const r = write();
    if (promised(r)) Promise.resolve(r).then(undefined, (error: unknown) => void (failed ??= { error }));
  };
  return {
    onBatchEnd(info) {
      if (failed) throw failed.error;
      if (!tty) return;
      const width = String(info.batches).length;
      wrote(() =>
        stream.write(
          `\r${prefix}epoch ${info.epoch + 1}/${info.epochs}  batch ${String(info.batch + 1).padStart(width)}/${info.batches}  loss ${info.meanLoss.toFixed(4)}`,
        ),
      );
    },
    onEpochEnd(info) {
      const metric = info.metric === undefined ? '' : `  val ${info.metric.toFixed(4)}`;
      const line = `${prefix}epoch ${info.epoch + 1}/${info.epochs}  loss ${info.loss.toFixed(4)}${metric}  ${info.seconds.toFixed(2)} s`;
      wrote(() => stream.write(tty ? `\r${line}\x1b[K\n` : `${line}\n`));
    },
  };
}
