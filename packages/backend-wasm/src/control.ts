/**
 * The control block shared by the calling thread and the helper threads of the wasm backend: an
 * Int32Array over a small SharedArrayBuffer per helper. Slots, by index:
 */

/** Sequence number of the latest job; a helper waits for it to change. */
export const SEQ = 0;
/** Sequence number of the latest job the helper finished. */
export const DONE = 1;
/** {@link JOB_THREW} when the latest job threw in the helper, {@link HELPER_GONE} once it is gone. */
export const FAILED = 2;
/** What to run: one of the KIND_* values. */
export const JOB_KIND = 3;
/** First of the job's arguments (int32 slots; a float argument is stored as float32 bits). */
export const JOB_ARGS = 4;
/** Slots in a control block. */
export const CONTROL_SLOTS = 16;

/** `dotsWith(config, a, m, b, n, steps, out, ldo, clamp, panelsPerBlock)`. */
export const KIND_DOTS = 1;
/** `dotsI8(q, qscale, c, n, stride, scales, out)`. */
export const KIND_DOTS_I8 = 2;
/** Return from the helper's loop. */
export const KIND_STOP = 3;
/** `dotsI8Batch(q, nq, qscales, c, n, stride, scales, out, ldo)`. */
export const KIND_DOTS_I8_BATCH = 4;

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
}
