import { accessSync, constants, existsSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A flag's default decides its type: numbers parse as numbers, strings stay strings. */
export type FlagDefaults = Record<string, number | string>;

/** What a flag's value must be: a whole number, bounds (inclusive `min`/`max`, exclusive `above`/`below`), or one of `choices`. */
export interface FlagRule {
  readonly int?: boolean;
  readonly min?: number;
  readonly max?: number;
  readonly above?: number;
  readonly below?: number;
  readonly choices?: readonly string[];
}

/** A mistake in the command line: reported as one line naming the flag, exit code 2. */
export class UsageError extends Error {}

/**
 * Parses `--name value` and `--name=value` flags against their defaults; unknown flags, values
 * that are not numbers where numbers are expected, and values outside their `rules` throw a
 * {@link UsageError} naming the flag, before any work starts.
 */
export function parseFlags<T extends FlagDefaults>(
  argv: readonly string[],
  defaults: T,
  rules: Partial<Record<keyof T, FlagRule>> = {},
): T {
  const out = parseRaw(argv, defaults);
  for (const [name, rule] of Object.entries(rules) as [string, FlagRule][]) {
    const v = out[name];
    const bad = (what: string): never => {
      throw new UsageError(`Flag '--${name}' must be ${what}, got '${v}'.`);
    };
    if (rule.choices && !rule.choices.includes(String(v))) bad(`one of ${rule.choices.join(', ')}`);
    if (typeof v !== 'number') continue;
    if (rule.int && !Number.isInteger(v)) bad('a whole number');
    if (rule.min !== undefined && v < rule.min) bad(`at least ${rule.min}`);
    if (rule.max !== undefined && v > rule.max) bad(`at most ${rule.max}`);
    if (rule.above !== undefined && !(v > rule.above)) bad(`more than ${rule.above}`);
    if (rule.below !== undefined && !(v < rule.below)) bad(`less than ${rule.below}`);
  }
  return out;
}

/**
 * Runs an app's `main`: a mistake in the command line ({@link UsageError}) or a failure is one line
 * on standard error (exit code 2 or 1), not a stack trace; `DEBUG=1` prints the stack too. Output
 * piped to a reader that stops early (`| head`) ends the run quietly.
 */
export function run(app: string, main: () => Promise<void>): void {
  // A reader that stops early (`| head`) closes the pipe: that ends the run, not with a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(process.exitCode ?? 0);
    });
  }
  main().catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    console.error(`${app}: ${message}`);
    if (process.env.DEBUG && err instanceof Error) console.error(err.stack);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  });
}

/**
 * Why `path` cannot be written as the output file of flag `flag` (a directory, a path under a file,
 * a directory that cannot be made or written), checked before any work; undefined when it can be.
 */
export function unwritable(path: string): string | undefined {
  if (path === '') return 'is empty';
  const full = resolve(path);
  try {
    if (existsSync(full) && statSync(full).isDirectory()) return 'is a directory';
    let dir = dirname(full);
    while (!existsSync(dir)) dir = dirname(dir);
    if (!statSync(dir).isDirectory()) return `is under ${dir}, which is not a directory`;
    // A probe file where the directory exists (access() says yes to root in /proc and /sys).
    if (dir === dirname(full)) {
      const probe = resolve(dir, `.cosinekit-mnist-${process.pid}.tmp`);
      writeFileSync(probe, '');
      unlinkSync(probe);
    } else {
      accessSync(dir, constants.W_OK);
      if (dir.startsWith('/proc') || dir.startsWith('/sys'))
        return `is under ${dir}, where files cannot be made`;
    }
  } catch (err) {
    return `cannot be written (${err instanceof Error ? err.message : String(err)})`;
  }
  return undefined;
}

function parseRaw<T extends FlagDefaults>(argv: readonly string[], defaults: T): T {
  const out: Record<string, number | string> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`Unexpected argument '${arg}'.`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!(name in defaults)) {
      throw new UsageError(
        `Unknown flag '--${name}'. Flags: ${Object.keys(defaults)
          .map((k) => `--${k}`)
          .join(', ')}.`,
      );
    }
    const raw = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (raw === undefined) throw new UsageError(`Flag '--${name}' needs a value.`);
    if (typeof defaults[name] === 'number') {
      // Decimal only: Number() also reads '' as 0 and '0x10' as 16.
      const v = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw.trim()) ? Number(raw) : Number.NaN;
      if (!Number.isFinite(v)) throw new UsageError(`Flag '--${name}' needs a number, got '${raw}'.`);
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
