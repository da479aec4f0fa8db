/**
 * The longest delay a timer takes, 2^31 - 1 ms (about 24.8 days): `setTimeout` fires a longer one
 * at once (Node after a warning, browsers silently), so a kernel given `timeoutMs: 2 ** 31` was
 * abandoned after 1 ms.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Whether a limit of `ms` milliseconds bounds anything: above 0 and within a timer's range. 0,
 * Infinity and anything past {@link MAX_TIMER_MS} mean no limit (NaN too; the options checks
 * refuse it before it gets here).
 */
export function bounded(ms: number): boolean {
  return ms > 0 && ms <= MAX_TIMER_MS;
}
