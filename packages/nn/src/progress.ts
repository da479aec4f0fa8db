import { argError } from '@cosinekit/core/backend';
import { checkObject } from './check.js';
import type { TrainCallbacks } from './train.js';

/**
 * Where progress goes: anything with `write` (a Node stream, a web stream's writer) and optionally
 * `isTTY`. A `write` that answers a promise is awaited by `train`: one that rejects fails it with
 * `INVALID_ARGUMENT` naming `callbacks`, as a `write` that throws does.
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
  return {
    onBatchEnd(info) {
      if (!tty) return;
      const width = String(info.batches).length;
      return wrote(
        stream.write(
          `\r${prefix}epoch ${info.epoch + 1}/${info.epochs}  batch ${String(info.batch + 1).padStart(width)}/${info.batches}  loss ${info.meanLoss.toFixed(4)}`,
        ),
      );
    },
    onEpochEnd(info) {
      const metric = info.metric === undefined ? '' : `  val ${info.metric.toFixed(4)}`;
      const line = `${prefix}epoch ${info.epoch + 1}/${info.epochs}  loss ${info.loss.toFixed(4)}${metric}  ${info.seconds.toFixed(2)} s`;
      return wrote(stream.write(tty ? `\r${line}\x1b[K\n` : `${line}\n`));
    },
  };
}

/**
 * A hook's answer for what `write` answered: its promise (a web stream writer's), for `train` to
 * await, so a write that fails fails the call by name; it was dropped, and its rejection ended the
 * process. Anything else (a Node stream's boolean) is no promise.
 */
function wrote(r: unknown): Promise<void> | undefined {
  try {
    if (typeof (r as { then?: unknown } | null)?.then !== 'function') return undefined;
  } catch (e) {
    return Promise.reject(e);
  }
  return Promise.resolve(r).then(() => undefined);
}
