/** A flag's default decides its type: numbers parse as numbers, strings stay strings. */
export type FlagDefaults = Record<string, number | string>;

/**
 * Parses `--name value` and `--name=value` flags against their defaults; unknown flags and
 * values that are not numbers where numbers are expected throw, naming the flag.
 */
export function parseFlags<T extends FlagDefaults>(argv: readonly string[], defaults: T): T {
  const out: Record<string, number | string> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`Unexpected argument '${arg}'.`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!(name in defaults)) {
      throw new Error(
        `Unknown flag '--${name}'. Flags: ${Object.keys(defaults)
          .map((k) => `--${k}`)
          .join(', ')}.`,
      );
    }
    const raw = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (raw === undefined) throw new Error(`Flag '--${name}' needs a value.`);
    if (typeof defaults[name] === 'number') {
      const v = Number(raw);
      if (!Number.isFinite(v)) throw new Error(`Flag '--${name}' needs a number, got '${raw}'.`);
      out[name] = v;
    } else {
      out[name] = raw;
    }
  }
  return out as T;
}

/** The help text: every flag with its default. */
export function usage(command: string, defaults: FlagDefaults): string {
  const lines = Object.entries(defaults).map(([k, v]) => `  --${k.padEnd(16)} (default ${v})`);
  return `Usage: ${command} [flags]\n${lines.join('\n')}`;
}
