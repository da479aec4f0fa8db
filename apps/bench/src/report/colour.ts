import picocolors from 'picocolors';

type Colours = ReturnType<typeof picocolors.createColors>;

/**
 * The colours every terminal report paints with. picocolors decides once, at import, from the
 * environment (NO_COLOR, FORCE_COLOR, a TTY) and the process's own argv; the CLI decides per run
 * (`--no-color`, which tests pass to `main` rather than to the process), so reports read this binding.
 */
export let pc: Colours = picocolors;

/** Turns colour on or off for the reports that follow; `undefined` restores the environment's choice. */
export function useColour(on?: boolean): void {
  pc = on === undefined ? picocolors : picocolors.createColors(on);
}
