/**
 * The control block shared by the calling thread and one helper thread of the wasm backend: a
 * small SharedArrayBuffer per helper, read as an Int32Array for the header slots and as a
 * Float64Array for the job's arguments (a float64 holds every wasm32 address and every float32
 * exactly, so one slot type serves every export). Header slots, by Int32Array index:
 */
import type { WasmExports } from './generated/exports.js';

/** Sequence number of the latest job; a helper waits for it to change. */
export const SEQ = 0;
/** Sequence number of the latest job the helper finished. */
export const DONE = 1;
/** {@link JOB_THREW} when the latest job threw in the helper, {@link HELPER_GONE} once it is gone. */
export const FAILED = 2;
/** What to run: {@link KIND_STOP}, or 1 + the job's index in {@link JOBS}. */
export const JOB_KIND = 3;
/** How many arguments the job has. */
export const JOB_ARGC = 4;
/**
 * -1: run the job once on its arguments. Otherwise the job is shared by chunks (see share.ts) and
 * this is the index of the argument that takes a chunk's row count.
 */
export const JOB_COUNT_ARG = 5;
/** Float64Array index of the job's first argument (byte 24, after the header). */
export const JOB_ARGS = 3;
/** Most arguments a job may have. */
export const MAX_ARGS = 13;
/**
 * Float64Array index of a shared job's per-row steps: a chunk starting at row `s` runs the job on
 * `args[t] + s * steps[t]` (its count argument replaced by the chunk's rows).
 */
export const JOB_STEPS = JOB_ARGS + MAX_ARGS;
/** Float64Array index of a shared job's row count. */
export const JOB_ROWS = JOB_STEPS + MAX_ARGS;
/** Float64Array index of a shared job's rows per chunk. */
export const JOB_CHUNK = JOB_ROWS + 1;
/**
 * Float64Array index of a shared job's copy-out (see `CopyOut` in share.ts): 0, or the lines each
 * chunk copies into the call's destination. The slots after it: the first line's float index in
 * wasm memory and the floats between lines there, the first line's index in the destination and
 * the floats between lines there, and the number of the destination message (the destination
 * itself travels on the helper's port, as a SharedArrayBuffer cannot be written into a slot).
 */
export const COPY_LINES = JOB_CHUNK + 1;
/** See {@link COPY_LINES}. */
export const COPY_SRC = COPY_LINES + 1;
/** See {@link COPY_LINES}. */
export const COPY_SRC_STRIDE = COPY_LINES + 2;
/** See {@link COPY_LINES}. */
export const COPY_DST = COPY_LINES + 3;
/** See {@link COPY_LINES}. */
export const COPY_DST_STRIDE = COPY_LINES + 4;
/** See {@link COPY_LINES}. */
export const COPY_DEST = COPY_LINES + 5;
/**
 * Float64Array index of the start (a float index in the destination) of the range the next job
 * will copy into, and after it that range's length (0: none): each chunk touches its share of the
 * range's pages (see `CopyOut.ahead` in threads.ts).
 */
export const COPY_AHEAD = COPY_LINES + 6;
/** See {@link COPY_AHEAD}. */
export const COPY_AHEAD_LENGTH = COPY_LINES + 7;
/** Bytes in a control block. */
export const CONTROL_BYTES = (COPY_AHEAD_LENGTH + 1) * 8;

/**
 * The work block, one per pool and shared by every thread: Int32Array slots of the shared call in
 * progress. {@link WORK_NEXT} is the next chunk to take (`Atomics.add`), {@link WORK_FINISHED} the
 * rows computed so far; each on its own cache line, as every thread writes them.
 */
export const WORK_NEXT = 0;
/** See {@link WORK_NEXT}. */
export const WORK_FINISHED = 16;
/** Bytes in the work block. */
export const WORK_BYTES = 128;

/** `JOB_KIND`: return from the helper's loop. */
export const KIND_STOP = 0;

/**
 * The exports a helper may run: the threaded kernels. A job names one by its index here (+ 1);
 * the helper receives this list when it starts, so it has no per-kernel code of its own.
 */
export const JOBS = [
  'dotsWith',
  'dotsI8',
  'dotsI8Batch',
  'sparseProduct',
  'dotsBlockedWith',
  'streamLongWith',
  'dotsLongWith',
  'dotsHalfWith',
] as const satisfies readonly (keyof WasmExports)[];

/** A threaded kernel: an export of the module that a helper can run on a share of the rows. */
export type Job = (typeof JOBS)[number];

/** `FAILED`: the latest job threw (a trap in the helper's share). */
export const JOB_THREW = 1;
/** `FAILED`: the helper is gone (it crashed, exited or was stopped); nothing more will come. */
export const HELPER_GONE = 2;

/** The message that starts a helper. */
export interface ControlInit {
  /** The threads build of the module (it imports `env.memory`). */
  module: WebAssembly.Module;
  /** The backend's shared memory. */
  memory: WebAssembly.Memory;
  /** This helper's control block. */
  control: SharedArrayBuffer;
  /** The pool's work block (see {@link WORK_NEXT}). */
  work: SharedArrayBuffer;
  /** {@link JOBS}: the exports job kinds 1, 2, ... run. */
  jobs: readonly string[];
  /**
   * Node only: this helper's end of a message channel, read synchronously
   * (`receiveMessageOnPort`) for the destination of a shared job that copies out its chunks.
   * Absent in browsers, which have no synchronous read: there the calling thread copies.
   */
  port?: unknown;
}

/** What the calling thread posts on a helper's port before a job that copies into `dest`. */
export interface DestinationMessage {
  /** Matches the job's {@link COPY_DEST} slot. */
  seq: number;
  /**
   * The SharedArrayBuffer of the call's result, which starts `offset` bytes into it and holds
   * `length` floats. Sent as the buffer and two numbers, not as the view: Node's structured clone
   * writes a view's offset and length as 32-bit values, so a result 4 GiB or more into its buffer
   * (or 4 GiB long) arrived as another view, and the helper wrote where the caller did not look.
   */
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}
