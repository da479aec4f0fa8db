#!/usr/bin/env node
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { basename, dirname, extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Backend } from '@cosinekit/core';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { backendContender } from './backend-contender.js';
import { backendSource, firstLine, KNOWN_BACKENDS } from './backends.js';
import { benchmark, checkNames, DEFAULTS, type ExtraBackend, MAX_THREADS } from './bench.js';
import { PEERS } from './contenders.js';
import { runCrossover } from './crossover.js';
import { nodeEnvironment } from './env.js';
import { pc, useColour } from './report/colour.js';
import { renderCompare } from './report/compare.js';
import { renderCrossover } from './report/crossover.js';
import { headerLines } from './report/format.js';
import { parseReport, toJson } from './report/json.js';
import { renderMarkdown } from './report/markdown.js';
import { renderSvg } from './report/svg.js';
import { renderTable } from './report/table.js';
import { renderRoofline } from './roofline.js';
import { parseGrid, renderSweep, runSweep, type SweepGrid } from './sweep.js';
import type { BenchReport, Size } from './types.js';
import { customTooBig, PRESETS, scaleWorkload } from './workloads.js';

export { customTooBig };

/** Where the CLI writes; tests pass sinks. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Show a progress bar (on stderr). */
  progress: boolean;
  /** Terminal width to fit the table to; unlimited when undefined (file or pipe). */
  columns?: number;
}

/** This package's version (package.json sits one level above both src/ and dist/). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** `--json -`: the JSON report goes to standard output, and the table to standard error. */
export const STDOUT = '-';

const processIo: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  progress: Boolean(process.stderr.isTTY),
  columns: process.stdout.isTTY ? process.stdout.columns : undefined,
};

/** The largest seed: the generators take 32 bits (a larger one aliased another seed silently). */
const MAX_SEED = 2 ** 32 - 1;
/** Most `crossover --reps`: each size runs all of them, with no time budget (1e9 ran until killed). */
const MAX_CROSSOVER_REPS = 99;
/** A decimal number, an exponent allowed (`1e6`); `Number` also reads '0x10' as 16 and '' as 0. */
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;
const int =
  (name: string, min: number, max = Number.POSITIVE_INFINITY) =>
  (v: string) => {
    const n = DECIMAL.test(v) ? Number(v) : Number.NaN;
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}.`);
    if (n > max) throw new InvalidArgumentError(`${name} must be at most ${max}.`);
    return n;
  };
const positive =
  (name: string, max = Number.POSITIVE_INFINITY) =>
  (v: string) => {
    const n = DECIMAL.test(v) ? Number(v) : Number.NaN;
    if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a positive number.`);
    if (n > max) throw new InvalidArgumentError(`${name} must be at most ${max}.`);
    return n;
  };
/** A file name: not empty (an empty one once meant "off" without a word; --no-json says that). */
const file =
  (name: string, off = true) =>
  (v: string) => {
    if (v.trim() === '')
      throw new InvalidArgumentError(
        `${name} needs a file name (${off ? `or use --no-${name.slice(2)}` : 'or leave it out'}).`,
      );
    return v;
  };
/** The wasm engine's tuning keys and whether each is a number. */
const WASM_TUNING: Record<string, boolean> = {
  tile: false,
  blockBytes: true,
  blockSteps: true,
  threadMinFlops: true,
  threadMinFlopsI8: true,
  touchBytes: true,
};
const tuning = (v: string) => {
  const out: Record<string, string | number> = {};
  for (const pair of v.split(',').filter(Boolean)) {
    const parts = pair.split('=').map((s) => s.trim());
    const [key, value] = parts;
    // `tile=4x2=3` dropped its `=3` without a word.
    if (!(key in WASM_TUNING) || !value || parts.length !== 2)
      throw new InvalidArgumentError(
        `expected key=value pairs with keys ${Object.keys(WASM_TUNING).join(', ')}.`,
      );
    // `tile=4x2,tile=2x2` ran the last without a word; a repeated flag is a usage error too.
    if (key in out) throw new InvalidArgumentError(`${key} is given twice.`);
    const n = DECIMAL.test(value) ? Number(value) : Number.NaN;
    if (WASM_TUNING[key] && !(Number.isInteger(n) && n >= 0))
      throw new InvalidArgumentError(`${key} must be a non-negative integer.`);
    out[key] = WASM_TUNING[key] ? n : value;
  }
  return out;
};
/**
 * A comma-separated list flag; given twice, the last one stands, as for every flag. An empty
 * `--workloads` is refused rather than running nothing (`-b ''` stays: no built-in backend, only
 * `--backend-module`s).
 */
const listOf =
  (name: string, emptyOk = true) =>
  (v: string) => {
    const items = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (items.length === 0 && !emptyOk) throw new InvalidArgumentError(`${name} needs at least one name.`);
    return items;
  };

interface RunFlags {
  workloads: string[];
  backends: string[];
  peers: string[];
  q?: number;
  n?: number;
  d?: number;
  k?: number;
  scale: number;
  reps: number;
  warmup: number;
  budget: number;
  baseline: string;
  tolerance: number;
  seed: number;
  threads?: number;
  wasmTuning?: Record<string, string | number>;
  shardBytes?: number;
  backendModule?: string[];
  json: string | false;
  grid?: Partial<SweepGrid>;
  markdown?: string;
  svg: string | false;
  progress: boolean;
  sideBySide: boolean;
}

/** Builds the command line; `run` receives the parsed flags of a benchmark run. */
export function buildProgram(io: Io, setExit: (code: number) => void, argv: readonly string[] = []): Command {
  const program = new Command('cosinekit-bench')
    .description(
      'Benchmarks CosineKit backends against the naive JS loop and tfjs, checks every result against float64, ' +
        'and reports what actually ran.\nExits 1 when any result is wrong (error above --tolerance, recall@k < 1) or a call throws.',
    )
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride()
    // Options after a subcommand are the subcommand's: `crossover --reps 3` is crossover's --reps.
    .enablePositionalOptions()
    .version(`cosinekit-bench ${VERSION}`, '-V, --version', 'print the version and exit')
    .option('--color', 'colours even when not writing to a terminal (anywhere on the line)')
    .option('--no-color', 'no colours (also: the NO_COLOR environment variable; anywhere on the line)')
    .option(
      '-w, --workloads <list>',
      `workloads, comma-separated: ${Object.values(PRESETS)
        .map((p) => `${p.id} (${p.title})`)
        .join(
          '; ',
        )}; custom (the --q/--n/--d/--k shape); roofline (this machine's wasm SIMD peak and read bandwidth, measured first; every search and matrix figure then gets its share of the limit that binds it); sweep (Q x N x d grid of wasm@1, wasm@all and tfjs-wasm's fast path judged against the roofline; --scale scales N, --grid narrows it; runs alone, or as roofline,sweep: it measures the roofline first). Default: ${DEFAULTS.workloads.join(',')}; million is opt-in (-w million -b wasm: wasm only, about 2.3 GB of wasm memory, --scale scales its N); huge is opt-in too (-w huge -b wasm: 20M x 384 int8, 7.7 GB over several wasm instances; needs about 9 GB free; --scale scales its N); pg-large is opt-in (-w pg-large -b pgvector,wasm: loading into PGlite is slow, 16 min for 200,000 rows on 2 busy cores; --scale scales N)`,
      listOf('--workloads', false),
      [...DEFAULTS.workloads],
    )
    .option(
      '-b, --backends <list>',
      `backends to run, comma-separated (known: ${KNOWN_BACKENDS.join(', ')})`,
      listOf('--backends'),
      [...DEFAULTS.backends],
    )
    .option(
      '-p, --peers <list>',
      `peers to run beside them (known: ${PEERS.join(', ')}; none for no peers; tfjs peers run on the engine of each tfjs-* backend)`,
      listOf('--peers'),
      [...DEFAULTS.peers],
    )
    .option('--q <rows>', 'custom workload: query rows Q (adds workload custom)', int('--q', 1))
    .option('--n <rows>', 'custom workload: corpus rows N', int('--n', 1))
    .option('--d <dim>', 'custom workload: dimension d', int('--d', 1))
    .option('--k <k>', 'custom workload: top-k (a search; without it, a cosine matrix)', int('--k', 1))
    .option(
      '--scale <factor>',
      'scale Q and N of the random presets (B, C, pg-large; N only for million), e.g. 0.05 for a quick run',
      positive('--scale'),
      1,
    )
    .option(
      '-r, --reps <n>',
      'timed repetitions per figure (median reported)',
      int('--reps', 1),
      DEFAULTS.reps,
    )
    .option('--warmup <n>', 'untimed calls before timing', int('--warmup', 0), DEFAULTS.warmup)
    .option(
      '--budget <seconds>',
      'time allowed per figure, at most 3600; slower contenders run fewer reps or on a slice (reported)',
      positive('--budget', 3600),
      DEFAULTS.budgetSeconds,
    )
    .option(
      '--baseline <id>',
      'contender (or contender/method) the speed-ups are relative to',
      DEFAULTS.baseline,
    )
    .option(
      '--tolerance <x>',
      'largest accepted |cosine - float64 cosine| (at most 1)',
      positive('--tolerance', 1),
      DEFAULTS.tolerance,
    )
    .option('--seed <n>', 'seed of the random data', int('--seed', 0, MAX_SEED), DEFAULTS.seed)
    .option(
      '--no-side-by-side',
      "do not time the ratio targets' two calls again in alternation after the run (their ratios are then of figures measured apart)",
    )
    .option(
      '--threads <n>',
      "threads for the wasm backends (createWasmBackend's `threads`; default: the backend's own, one per core). Per backend: -b wasm@1,wasm@2",
      int('--threads', 1, MAX_THREADS),
    )
    .option(
      '--wasm-tuning <pairs>',
      'engine tuning of the wasm backends, for tuning runs (keys tile, blockBytes, blockSteps, threadMinFlops, threadMinFlopsI8, touchBytes): tile=4x2,blockBytes=98304,blockSteps=0,threadMinFlops=0',
      tuning,
    )
    .option(
      '--shard-bytes <n>',
      "bytes of corpora per wasm instance before the wasm backends start another (createWasmBackend's `shardBytes`; default 3.5 GiB); small values spread a corpus over many instances",
      int('--shard-bytes', 1),
    )
    .option(
      '--backend-module <paths...>',
      "extra backends: ES modules whose default export (or 'createBackend') returns a core Backend",
    )
    .option(
      '--grid <axes>',
      "sweep: the grid's axes to use instead of the full one, e.g. 'q=1,64;n=10000;d=96,768'",
      (v: string) => {
        try {
          return parseGrid(v);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      },
    )
    .option(
      '--json <file>',
      "write the JSON report here ('-': to standard output, the table then goes to standard error; sweep: bench-results/sweep.json)",
      file('--json'),
      'bench-results/latest.json',
    )
    .option('--no-json', 'do not write the JSON report')
    .option('--markdown <file>', 'also write a Markdown report', file('--markdown', false))
    .option('--svg <file>', 'write the SVG chart here', file('--svg'), 'bench-results/latest.svg')
    .option('--no-svg', 'do not write the SVG chart')
    .option('--no-progress', 'no progress bar')
    .addHelpText(
      'after',
      '\nExamples:\n  cosinekit-bench\n  cosinekit-bench -w B -b wasm,tfjs-wasm --reps 9\n' +
        '  cosinekit-bench -w custom --q 64 --n 20000 --d 256 --k 10\n  cosinekit-bench -w mnist\n' +
        '  cosinekit-bench -w million -b wasm\n' +
        '  cosinekit-bench -w pg-large -b pgvector,wasm -p naive\n' +
        '  cosinekit-bench --scale 0.05 --json - | jq .results\n' +
        '  cosinekit-bench compare before.json after.json\n  cosinekit-bench backends\n' +
        '  cosinekit-bench -w A,B,S -b wasm-simd@1 --wasm-tuning tile=4x2,blockBytes=98304\n' +
        '  cosinekit-bench crossover --variant relaxed --threads 2',
    )
    // A word that is not a command reaches the run as an operand: named there, with the commands.
    .allowExcessArguments(true)
    .action(async (flags: RunFlags, cmd: Command) => {
      if (cmd.args.length > 0) {
        const commands = cmd.commands.map((c) => c.name()).join(', ');
        io.err(
          pc.red(
            `cosinekit-bench: unknown command '${cmd.args[0]}' (commands: ${commands}; a run takes options only: see --help).`,
          ),
        );
        setExit(2);
        return;
      }
      // A shape given without --workloads means "just that shape".
      const onlyCustom = cmd.getOptionValueSource('workloads') === 'default';
      if (flags.workloads.includes('sweep')) {
        // The sweep runs alone, on its own contenders: a flag it does not read was dropped silently.
        const unused = [
          'backends',
          'peers',
          'baseline',
          'markdown',
          'svg',
          'q',
          'n',
          'd',
          'k',
          'backendModule',
        ]
          .filter((k) => cmd.getOptionValueSource(k) === 'cli')
          .map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
        // roofline may be named with it (the README's `-w roofline,sweep`): the sweep measures it first.
        const others = flags.workloads.filter((w) => w !== 'sweep' && w !== 'roofline');
        if (others.length) unused.unshift(`the other workloads (${others.join(', ')})`);
        if (unused.length) {
          io.err(pc.red(`cosinekit-bench: -w sweep runs alone and does not take ${unused.join(', ')}.`));
          setExit(2);
          return;
        }
        const json = cmd.getOptionValueSource('json') === 'default' ? 'bench-results/sweep.json' : flags.json;
        if (json && json !== STDOUT) {
          const why = unwritable(json);
          if (why) {
            io.err(pc.red(`cosinekit-bench: --json ${json}: ${why}`));
            setExit(2);
            return;
          }
        }
        setExit(await sweepFromFlags({ ...flags, json }, io, argv));
        return;
      }
      // Flags a run without their subject dropped silently (exit 0): named, as the sweep names its own.
      const given = (k: string) => cmd.getOptionValueSource(k) === 'cli';
      const wasm = flags.backends.some((b) => b.startsWith('wasm'));
      // A wasm backend without @N takes --threads; `-b wasm@1 --threads 2` ran one thread.
      const wasmThreads = flags.backends.some((b) => /^wasm(-\w+)?$/.test(b));
      // An unknown workload is named as such below, not as one whose size is fixed.
      const known = flags.workloads.every(
        (w) =>
          ['custom', 'roofline', 'sweep'].includes(w) ||
          (PRESETS[w.toUpperCase()] ?? PRESETS[w]) !== undefined,
      );
      const ignored = [
        given('grid') ? '--grid (read by -w sweep alone)' : '',
        !wasm && given('wasmTuning') ? '--wasm-tuning (read by the wasm backends alone)' : '',
        !wasm && given('shardBytes') ? '--shard-bytes (read by the wasm backends alone)' : '',
        onlyCustom && (given('q') || given('n') || given('d')) && given('scale')
          ? '--scale (read by the preset workloads; a custom shape is its own size)'
          : '',
        !wasm && !flags.workloads.includes('roofline') && given('threads')
          ? '--threads (read by the wasm backends and the roofline alone)'
          : '',
        wasm && !wasmThreads && !flags.workloads.includes('roofline') && given('threads')
          ? '--threads (every wasm backend names its threads with @N)'
          : '',
        // `-w mnist --scale 0.1` ran all of mnist, `-w A --scale 1e-300` one pair, without a word.
        given('scale') && known && !onlyCustom && !flags.workloads.some(scales)
          ? `--scale (${flags.workloads.join(', ')} ${flags.workloads.length > 1 ? 'have' : 'has'} a fixed size)`
          : '',
        flags.workloads.length > 0 &&
        flags.workloads.every((w) => w === 'roofline') &&
        (given('backends') || given('peers'))
          ? '-b and -p (the roofline measures the machine, not contenders)'
          : '',
      ].filter(Boolean);
      if (ignored.length) {
        io.err(pc.red(`cosinekit-bench: this run would ignore ${ignored.join(', ')}.`));
        setExit(2);
        return;
      }
      setExit(await runFromFlags(flags, io, argv, onlyCustom));
    });
  program
    .command('compare')
    .description('compare two JSON reports: what got faster or slower (per pair)')
    .argument('<before>', 'earlier report (JSON)')
    .argument('<after>', 'later report (JSON)')
    .addOption(
      new Option('--threshold <fraction>', 'changes smaller than this count as the same').default(0.05),
    )
    .action((before: string, after: string, opts: { threshold: number | string }) => {
      const threshold = Number(opts.threshold);
      if (!(threshold >= 0 && threshold < 1)) {
        io.err(pc.red(`cosinekit-bench: --threshold must be a fraction in [0, 1), got '${opts.threshold}'.`));
        setExit(2);
        return;
      }
      // Which file failed is named (a bare EISDIR or JSON position said nothing of it).
      const read = (path: string) => {
        try {
          return readFileSync(path, 'utf8');
        } catch (err) {
          throw new Error(`${path} cannot be read: ${firstLine(err)}`);
        }
      };
      const a = parseReport(read(before), before);
      const b = parseReport(read(after), after);
      io.out(renderCompare(a, b, threshold));
      setExit(b.ok ? 0 : 1);
    });
  program
    .command('crossover')
    .description(
      "where the wasm backend's helper threads start to pay: float products and int8 scans over a range of sizes, " +
        'on one thread and on --threads with sharing forced (the default thresholds come from this)',
    )
    .addOption(new Option('--variant <v>', 'wasm build').choices(['simd', 'relaxed']).default('simd'))
    .option('--threads <n>', 'threads of the shared run', int('--threads', 2, MAX_THREADS), 2)
    .option(
      '-r, --reps <n>',
      `timed samples per size (median reported; at most ${MAX_CROSSOVER_REPS}: crossover has no time budget)`,
      int('--reps', 1, MAX_CROSSOVER_REPS),
      7,
    )
    .option('--seed <n>', 'seed of the random data', int('--seed', 0, MAX_SEED), DEFAULTS.seed)
    .option(
      '--json <file>',
      "also write the figures as JSON ('-': to standard output)",
      file('--json', false),
    )
    .action(
      async (opts: {
        variant: 'simd' | 'relaxed';
        threads: number;
        reps: number;
        seed: number;
        json?: string;
      }) => {
        // Checked before the run, as the main command checks its outputs.
        const why = opts.json && opts.json !== STDOUT ? unwritable(opts.json) : undefined;
        if (why) {
          io.err(pc.red(`cosinekit-bench: --json ${opts.json}: ${why}`));
          setExit(2);
          return;
        }
        threadNote(io, opts.threads, '--threads');
        const report = await runCrossover({
          variant: opts.variant,
          threads: opts.threads,
          reps: opts.reps,
          seed: opts.seed,
          load: nodeLoader,
          onProgress: (done, total, label) => {
            if (io.progress) io.err(pc.dim(`[${done}/${total}] ${label}`));
          },
        });
        const text = renderCrossover(report);
        if (opts.json === STDOUT) {
          io.err(text);
          io.out(JSON.stringify(report, null, 2));
        } else {
          io.out(text);
          if (opts.json) {
            makeDirs(dirname(resolve(opts.json)));
            writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
            io.out(pc.dim(`JSON written to ${opts.json}`));
          }
        }
      },
    );
  program
    .command('backends')
    .description('try to start every known backend and say what it runs on, or why it cannot run here')
    .argument('[ids...]', `backend ids (default: all known: ${KNOWN_BACKENDS.join(', ')})`)
    .action(async (ids: string[]) => {
      // The run's checks: 'backends wasm@1000' started 1,000 threads for a minute, then said
      // "not available" and exited 0; an id named twice was tried twice.
      try {
        checkNames(ids, []);
      } catch (err) {
        io.err(pc.red(`cosinekit-bench: ${(err as Error).message}`));
        setExit(2);
        return;
      }
      for (const id of ids.length ? ids : KNOWN_BACKENDS) {
        const source = backendSource(id, nodeLoader);
        try {
          const open = await backendContender(id, () => source.create()).open();
          const providers = Object.values(open.info.providers ?? {});
          const own = providers.filter((p) => p === open.info.backend).length;
          const details = Object.entries(open.info.details ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(', ');
          io.out(`${pc.green(id.padEnd(18))} ${details} (runs ${own} of ${providers.length} kernels itself)`);
          await open.close();
        } catch (err) {
          io.out(`${pc.yellow(id.padEnd(18))} not available: ${firstLine(err)}`);
        }
        io.out(pc.dim(`${''.padEnd(18)} ${source.origin}`));
      }
    });
  // `help` and `help <command>`, as `--help` and `<command> --help`.
  program.helpCommand('help [command]', 'print the usage of the run or of a command');
  // The run's operands are named above; a command's own extra words stay usage errors (commander
  // copies the run's setting into each command made after it).
  for (const c of program.commands) c.allowExcessArguments(false);
  return program;
}

/** Node loads backend packages by name, from this package's dependencies. */
const nodeLoader = (spec: string) => import(spec) as Promise<Record<string, unknown>>;

async function runFromFlags(
  f: RunFlags,
  io: Io,
  argv: readonly string[],
  onlyCustom: boolean,
): Promise<number> {
  let workloads = f.workloads;
  let custom: Size | undefined;
  if (
    f.q !== undefined ||
    f.n !== undefined ||
    f.d !== undefined ||
    f.k !== undefined ||
    workloads.includes('custom')
  ) {
    if (f.q === undefined || f.n === undefined || f.d === undefined) {
      io.err(pc.red('cosinekit-bench: a custom workload needs --q, --n and --d (and --k for a search).'));
      return 2;
    }
    if (f.k !== undefined && f.k > f.n) {
      io.err(pc.red('cosinekit-bench: --k must not exceed --n.'));
      return 2;
    }
    custom = { q: f.q, n: f.n, d: f.d, ...(f.k !== undefined ? { k: f.k } : {}) };
    // Checked before anything is made: --q 1000000000 once grew the process by 200 MB/s for
    // minutes, and --n 1e8 --d 1e5 failed after starting as a wrong result.
    const tooBig = customTooBig(custom, totalmem());
    if (tooBig) {
      io.err(
        pc.red(`cosinekit-bench: the custom workload ${custom.q} x ${custom.n} x ${custom.d} ${tooBig}`),
      );
      return 2;
    }
    if (!workloads.includes('custom')) workloads = onlyCustom ? ['custom'] : [...workloads, 'custom'];
  }
  // A scaled preset is checked as a custom shape is: --scale 1e6 on B failed after starting, as a
  // wrong result (exit 1), when its arrays could not be made.
  for (const id of workloads) {
    const preset = PRESETS[id] ?? PRESETS[id.toUpperCase()];
    if (preset?.data !== 'random' || preset.kind === 'pair' || f.scale <= 1) continue;
    const { size } = scaleWorkload(preset, f.scale);
    const why = customTooBig(size, totalmem());
    if (why) {
      io.err(
        pc.red(
          `cosinekit-bench: --scale ${f.scale} makes workload ${id} ${size.q} x ${size.n} x ${size.d}, which ${why}`,
        ),
      );
      return 2;
    }
  }
  // `-p none`: the backends alone.
  f = { ...f, peers: f.peers.filter((p) => p !== 'none') };
  try {
    checkNames(
      f.backends,
      f.peers,
      workloads,
      (f.backendModule ?? []).map((p) => basename(p, extname(p))),
    );
  } catch (err) {
    io.err(pc.red(`cosinekit-bench: ${(err as Error).message}`));
    return 2;
  }
  const extra = (f.backendModule ?? []).map(moduleBackend);
  {
    // The most threads any wasm contender or the roofline will run.
    const asked = f.backends.map((b) => Number(/^wasm(?:-\w+)?@(\d+)$/.exec(b)?.[1] ?? 0));
    const most = Math.max(f.threads ?? 0, ...asked);
    threadNote(
      io,
      most > 0 ? most : undefined,
      f.threads && f.threads >= most ? '--threads' : 'a wasm@N backend',
    );
  }
  if (f.backends.length === 0 && f.peers.length === 0 && extra.length === 0) {
    // `-b '' -p none` measured nothing and exited 0.
    io.err(
      pc.red(
        'cosinekit-bench: nothing to run: -b and -p name no contender, and no --backend-module is given.',
      ),
    );
    return 2;
  }
  // The baseline names a contender (or contender/method): one no run can have gave an empty column.
  const base = f.baseline.split('/')[0];
  const contenders = [...KNOWN_BACKENDS, ...PEERS, ...extra.map((e) => e.id)] as readonly string[];
  if (!contenders.includes(base) && !contenders.some((c) => base.startsWith(`${c}@`))) {
    io.err(
      pc.red(
        `cosinekit-bench: --baseline '${f.baseline}' names no contender (known: ${contenders.join(', ')}).`,
      ),
    );
    return 2;
  }
  // One given on the command line must be among this run's contenders (tfjs-fast with -p none, or
  // wasm@7 with -b wasm, gave an empty column and no word).
  const running = [...f.backends, ...f.peers, ...extra.map((e) => e.id)];
  if (argv.some((a) => a === '--baseline' || a.startsWith('--baseline=')) && !running.includes(base)) {
    io.err(
      pc.red(
        `cosinekit-bench: --baseline '${f.baseline}' is not among this run's contenders (${running.join(', ') || 'none'}).`,
      ),
    );
    return 2;
  }
  // Checked before anything runs: a run of minutes once ended on an output path it could not write.
  const taken = new Map<string, string>();
  for (const [flag, path] of [
    ['--json', f.json],
    ['--markdown', f.markdown],
    ['--svg', f.svg],
  ] as const) {
    if (!path || (path === STDOUT && flag === '--json')) continue;
    // '-' is standard output for --json alone (a file named '-' was written); two reports to one
    // file overwrote each other.
    const file = sameFile(path);
    const why =
      path === STDOUT
        ? `only --json writes to standard output ('-').`
        : taken.has(file)
          ? `is the file ${taken.get(file)} writes too.`
          : unwritable(path);
    taken.set(file, flag);
    if (why) {
      io.err(pc.red(`cosinekit-bench: ${flag} ${path}: ${why}`));
      return 2;
    }
  }
  // A backend module named on the command line must load: its absence was one "not available" row.
  for (const e of extra) {
    try {
      await e.check?.();
    } catch (err) {
      io.err(pc.red(`cosinekit-bench: --backend-module ${e.id}: ${firstLine(err)}`));
      return 2;
    }
  }
  const bar =
    f.progress && io.progress
      ? new SingleBar({
          format: ' {bar} {value}/{total} {label}',
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        })
      : undefined;
  bar?.start(1, 0, { label: 'starting' });
  const t0 = performance.now();
  let report: BenchReport;
  try {
    report = await benchmark({
      workloads,
      command: ['cosinekit-bench', ...argv].join(' '),
      custom,
      scale: f.scale,
      backends: f.backends,
      peers: f.peers,
      extraBackends: extra,
      reps: f.reps,
      warmup: f.warmup,
      budgetSeconds: f.budget,
      baseline: f.baseline,
      tolerance: f.tolerance,
      seed: f.seed,
      sideBySide: f.sideBySide,
      threads: f.threads,
      wasmTuning: f.wasmTuning,
      shardBytes: f.shardBytes,
      load: nodeLoader,
      environment: nodeEnvironment(),
      onProgress: (done, total, label) => {
        if (bar) {
          bar.setTotal(total);
          bar.update(done, { label });
        } else if (f.progress)
          io.err(pc.dim(`[${done}/${total}] ${label} (${((performance.now() - t0) / 1000).toFixed(1)} s)`));
      },
    });
  } catch (err) {
    bar?.stop();
    io.err(pc.red(`cosinekit-bench: ${err instanceof Error ? err.message : String(err)}`));
    return 2;
  }
  bar?.stop();
  // With the JSON on standard output, everything for people goes to standard error.
  const jsonToStdout = f.json === STDOUT;
  const say = jsonToStdout ? io.err : io.out;
  // `-w roofline` alone has no results table: just the environment and the limits.
  const limitsOnly = report.roofline && report.results.length === 0;
  if (limitsOnly)
    say(
      `${headerLines(report)
        .filter((l) => !l.startsWith('Settings'))
        .join('\n')}\n`,
    );
  else say(renderTable(report, io.columns ?? Number.POSITIVE_INFINITY));
  if (report.roofline) say(`${limitsOnly ? '' : '\n'}${renderRoofline(report)}`);
  const write = (path: string, text: string, what: string) => {
    makeDirs(dirname(resolve(path)));
    writeFileSync(path, text);
    say(pc.dim(`${what} written to ${path}`));
  };
  if (jsonToStdout) io.out(toJson(report).trimEnd());
  else if (f.json) write(f.json, toJson(report), 'JSON');
  if (f.markdown) write(f.markdown, renderMarkdown(report), 'Markdown');
  if (f.svg) write(f.svg, renderSvg(report), 'SVG chart');
  // Nothing measured (no contender could run these workloads here) is not a passing run.
  if (report.ok && !limitsOnly && !report.results.some((r) => r.status === 'ok')) return 2;
  return report.ok ? 0 : 1;
}

/** `-w sweep`: the shape grid against the roofline; a table and JSON. Exits 1 when a figure is wrong. */
async function sweepFromFlags(f: RunFlags, io: Io, argv: readonly string[]): Promise<number> {
  const t0 = performance.now();
  const report = await runSweep({
    grid: f.grid,
    scale: f.scale,
    threads: f.threads,
    reps: f.reps,
    warmup: f.warmup,
    budgetSeconds: f.budget,
    tolerance: f.tolerance,
    seed: f.seed,
    load: nodeLoader,
    environment: nodeEnvironment(),
    command: ['cosinekit-bench', ...argv].join(' '),
    onProgress: (done, total, label) => {
      if (f.progress)
        io.err(pc.dim(`[${done}/${total}] ${label} (${((performance.now() - t0) / 1000).toFixed(1)} s)`));
    },
  });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (f.json === STDOUT) {
    io.err(renderSweep(report));
    io.out(json.trimEnd());
  } else {
    io.out(renderSweep(report));
    if (f.json) {
      makeDirs(dirname(resolve(f.json)));
      writeFileSync(f.json, json);
      io.out(pc.dim(`JSON written to ${f.json}`));
    }
  }
  if (!report.ok) return 1;
  // Every cell skipped (a grid past this machine's memory or the time budget) measured nothing: as
  // the main run, exit 2, not a table of "n/a" targets and exit 0.
  if (!report.cells.some((c) => c.figures.some((x) => x.status === 'ok'))) {
    io.err(pc.yellow('Nothing was measured: every cell of the grid was skipped (see above).'));
    return 2;
  }
  return 0;
}

/**
 * Makes the missing directories of `dir` one level at a time, from the nearest that exists: Node's
 * recursive mkdir looped forever under /proc.
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  let at = dir;
  while (!existsSync(at)) {
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing) mkdirSync(d);
}

/** Largest typed array a run makes, in elements (V8's limit is about 2^32; a row-major matrix is one array). */
/** Why `path` cannot be written (its directory cannot be made or written), or undefined. */
function unwritable(path: string): string | undefined {
  // `resolve` drops a trailing slash: `nd/` was checked as a file `nd` and failed after the run.
  if (/[\\/]$/.test(path)) return 'names a directory (it ends with a slash); give a file name.';
  try {
    const full = resolve(path);
    if (existsSync(full) && statSync(full).isDirectory()) return 'is a directory.';
    // An existing file must be writable itself (a read-only one failed after the whole run).
    if (existsSync(full)) accessSync(full, constants.W_OK);
    let dir = dirname(full);
    while (!existsSync(dir)) dir = dirname(dir);
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory.`;
    accessSync(dir, constants.W_OK);
    // Folders still to make: the first is made and removed again (access() says yes to root in
    // /sys or /proc, where making them after a whole run then failed).
    if (dir !== dirname(full)) {
      let first = dirname(full);
      while (dirname(first) !== dir) first = dirname(first);
      try {
        mkdirSync(first);
        rmdirSync(first);
      } catch (err) {
        return `${first} cannot be made (${(err as { code?: string }).code ?? firstLine(err)}).`;
      }
    }
    // Where the directory exists, a file is written and removed there: access() says yes to root
    // in /sys or /proc, where the write after a whole run then failed.
    if (dir === dirname(full)) {
      const probe = resolve(dir, `.cosinekit-bench-${process.pid}-${Date.now()}.tmp`);
      try {
        writeFileSync(probe, '');
        unlinkSync(probe);
      } catch (err) {
        return `${dir} is not writable (${(err as { code?: string }).code ?? firstLine(err)}).`;
      }
    }
    return undefined;
  } catch (err) {
    return firstLine(err);
  }
}

/**
 * The file `path` names, links followed (an existing file's real path, else its folder's real path
 * and its name), so two flags naming one file through a link are found: a link `b.json` to
 * `a.json` had --svg overwrite the JSON.
 */
function sameFile(path: string): string {
  const full = resolve(path);
  try {
    return realpathSync(full);
  } catch {
    try {
      return resolve(realpathSync(dirname(full)), basename(full));
    } catch {
      return full;
    }
  }
}

/** True when `--scale` changes workload `id` (the preset scaled is not the preset itself). */
function scales(id: string): boolean {
  const spec = PRESETS[id.toUpperCase()] ?? PRESETS[id];
  return spec === undefined ? id === 'sweep' : scaleWorkload(spec, 0.5) !== spec;
}

/**
 * Says so on standard error when `threads` (asked for by `what`) exceed the cores this process may
 * use (a CPU affinity mask, a CPU quota): such figures measure threads contending for a core, and
 * the run went on as if they were what sharing gains.
 */
function threadNote(io: Io, threads: number | undefined, what: string): void {
  const usable = availableParallelism();
  if (threads !== undefined && threads > usable)
    io.err(
      pc.yellow(
        `cosinekit-bench: note: ${what} asks for ${threads} threads, but this process may use ${usable} core${usable > 1 ? 's' : ''}: those figures measure contention, not what threads gain (thread targets are not judged).`,
      ),
    );
}

/** How long a --backend-module's factory may take to make its backend (a kit's init bound). */
const MODULE_START_MS = 60_000;

function moduleBackend(path: string): ExtraBackend & { check(): Promise<void> } {
  const load = async () => {
    const mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
    const make = mod.default ?? mod.createBackend;
    if (make === undefined) throw new Error(`${path} has no default export and no createBackend`);
    return make;
  };
  return {
    id: basename(path, extname(path)),
    async check() {
      const make = await load();
      // Named on the command line, it must be a factory (or a backend): 5 ran as "not available".
      if (typeof make !== 'function' && (typeof make !== 'object' || make === null))
        throw new Error(
          `${path}: its default export (or createBackend) is ${typeof make}, not a backend factory`,
        );
    },
    async create() {
      const make = await load();
      // Bounded as a kit bounds a backend's init: a factory that never settles hung the run.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const b = await Promise.race([
        typeof make === 'function' ? make() : make,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${path}: its factory did not settle within ${MODULE_START_MS / 1000} s`)),
            MODULE_START_MS,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      if (!b || typeof b !== 'object' || typeof (b as Backend).name !== 'string') {
        throw new Error(`${path}: the default export (or createBackend) must return a Backend`);
      }
      return b as Backend;
    },
  };
}

/**
 * What `argv` gives twice to the command it runs ("-w is given twice", or "--json and --no-json
 * are both given"), or undefined: commander keeps the last value, so `-w A -w B` ran B alone and `--q 2 --q 3` took 3.
 */
function repeatedOption(program: Command, argv: readonly string[]): string | undefined {
  const sub = program.commands.find((c) => c.name() === argv[0]);
  const options = (sub ?? program).options;
  const seen = new Map<string, { option: Option; flag: string }>();
  for (const arg of sub ? argv.slice(1) : argv) {
    if (arg === '--') break;
    const flag = arg.startsWith('--') ? arg.split('=')[0] : arg;
    const o = options.find((x) => x.long === flag || x.short === flag);
    if (o === undefined) continue;
    const name = o.attributeName();
    const first = seen.get(name);
    // `--json x --no-json` sets one value under two options: name both.
    if (first !== undefined)
      return first.option === o
        ? `${flag} is given twice; give it once (a flag that takes several values takes a comma list)`
        : `${first.flag} and ${flag} are both given; give one of them`;
    seen.set(name, { option: o, flag });
  }
  return undefined;
}

/** Runs the CLI on `argv` (without `node` and the script) and returns the exit code. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  // Colour is decided before parsing, so `--no-color` works anywhere (after a subcommand too) and
  // usage errors come out plain as well.
  useColour(argv.includes('--no-color') ? false : argv.includes('--color') ? true : undefined);
  argv = argv.filter((a) => a !== '--no-color' && a !== '--color');
  let code = 0;
  const program = buildProgram(
    io,
    (c) => {
      code = c;
    },
    argv,
  );
  const twice = repeatedOption(program, argv);
  if (twice !== undefined) {
    io.err(pc.red(`cosinekit-bench: ${twice}.`));
    return 2;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version')
      return 0;
    // Usage errors exit 2, apart from 1 (a wrong result).
    if (e.code?.startsWith('commander.')) return 2;
    io.err(pc.red(`cosinekit-bench: ${err instanceof Error ? err.message : String(err)}`));
    return 2;
  }
  return code;
}

// Run when executed (node dist/cli.js, or the cosinekit-bench bin link), not when imported by a test.
const entry = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url)) {
  // A reader that stops early (`| head`) closes the pipe: that ends the output, not with a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(process.exitCode ?? 0);
    });
  }
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
