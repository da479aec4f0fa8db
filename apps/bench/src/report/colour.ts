import picocolors from 'picocolors';

type Colours = ReturnType<typeof picocolors.createColors>;

/**
 * The colours every terminal report paints with. picocolors decides once, at import, from the
 * environment (NO_COLOR, FORCE_COLOR, a TTY) and the process's own argv; the CLI decides per run
 * (`--no-color`, which tests pass to `main` rather than to the process), so reports read this binding.
 */
export let pc: Colours = picocolors.createColors(environmentColour());

/** Turns colour on or off for the reports that follow; `undefined` restores the environment's choice. */
export function useColour(on?: boolean): void {
  pc = picocolors.createColors(on ?? environmentColour());
}

/**
 * The environment's choice: off with `NO_COLOR`, on with `FORCE_COLOR` (not `0`), else on a
 * terminal only. picocolors' own rule also turns it on under `CI`, which wrote escape codes into
 * a report redirected to a file there.
 */
function environmentColour(): boolean {
  const env = typeof process === 'undefined' ? {} : process.env;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return typeof process !== 'undefined' && process.stdout?.isTTY === true && env.TERM !== 'dumb';
}
