/**
 * The losses and optimisers this package makes. {@link train} lets their steps finish when its
 * signal fires (they end, and leave consistent weights); a step of the caller's own that is still
 * pending is not waited for (see `TrainOptions.signal`).
 */
const BUILT_IN = new WeakSet<object>();

/** Marks `x` as made by this package. */
export function builtIn<T extends object>(x: T): T {
  BUILT_IN.add(x);
  return x;
}

/** Whether `x` was made by this package (see {@link builtIn}). */
export function isBuiltIn(x: unknown): boolean {
  return typeof x === 'object' && x !== null && BUILT_IN.has(x);
}
