import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { customTooBig, type Io, main, VERSION } from '../src/cli.js';
import { parseReport } from '../src/report/json.js';
import type { BenchReport } from '../src/types.js';

const dir = mkdtempSync(join(tmpdir(), 'cosinekit-bench-'));
const wrongBackend = fileURLToPath(new URL('./fixtures/wrong-backend.ts', import.meta.url));
const leakyBackend = fileURLToPath(new URL('./fixtures/leaky-backend.ts', import.meta.url));
const brokenBackend = fileURLToPath(new URL('./fixtures/broken-backend.ts', import.meta.url));

/** Runs the CLI and keeps standard output and standard error apart. */
async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), progress: false };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}
const ESC = '\u001b[';

/** Runs the CLI quietly on a tiny shape; returns the exit code, the JSON report and the printed text. */
async function run(
  name: string,
  args: string[],
): Promise<{ code: number; report: BenchReport; text: string }> {
  const lines: string[] = [];
  const io: Io = { out: (t) => lines.push(t), err: (t) => lines.push(t), progress: false };
  const json = join(dir, `${name}.json`);
  const svg = join(dir, `${name}.svg`);
  // Defaults the test's own flags replace (a flag given twice is a usage error).
  const defaults: [string[], string][] = [
    [['-b', '--backends'], 'reference'],
    [['-p', '--peers'], 'naive,core'],
    [['-r', '--reps'], '3'],
    [['--budget'], '0.5'],
    [['--json'], json],
    [['--svg'], svg],
  ];
  const given = defaults.filter(([flags]) => !flags.some((f) => args.includes(f)));
  const code = await main([...given.flatMap(([flags, v]) => [flags.at(-1)!, v]), ...args], io);
  return {
    code,
    report: parseReport(readFileSync(json, 'utf8')),
    text: stripVTControlCharacters(lines.join('\n')),
  };
}

describe('cosinekit-bench CLI', () => {
  it('times and checks a search, a matrix and a pair on the reference backend', async () => {
    for (const [shape, kind] of [
      [['--q', '3', '--n', '200', '--d', '16', '--k', '5'], 'search'],
      [['--q', '4', '--n', '50', '--d', '8'], 'matrix'],
      [['--q', '1', '--n', '1', '--d', '32'], 'pair'],
    ] as const) {
      const { code, report, text } = await run(kind, ['--workloads', 'custom', ...shape]);
      expect(code).toBe(0);
      expect(report.ok).toBe(true);
      expect(report.workloads[0].kind).toBe(kind);
      const timed = report.results.filter((r) => r.status === 'ok');
      // naive, reference (and core's cosine() for a pair; two methods for a matrix).
      expect(timed.length).toBeGreaterThanOrEqual(2);
      for (const r of timed) {
        expect(r.timing!.median).toBeGreaterThan(0);
        expect(r.timing!.reps).toBeGreaterThanOrEqual(1);
        expect(r.gflops).toBeGreaterThan(0);
        expect(r.accuracy!.ok).toBe(true);
        expect(r.accuracy!.maxAbsError).toBeLessThan(1e-6);
        if (kind === 'search') expect(r.accuracy!.recall).toBe(1);
        expect(r.speedup).toBeGreaterThan(0);
      }
      const naive = timed.find((r) => r.contender === 'naive')!;
      expect(naive.speedup).toBe(1);
      expect(timed.find((r) => r.contender === 'reference')!.ranBy).toBe('reference');
      expect(report.contenders.find((c) => c.id === 'reference')!.details).toMatchObject({
        engine: 'TypeScript',
      });
      expect(text).toContain('All results within tolerance');
    }
  });

  it('flags a backend whose cosines are slightly wrong and exits non-zero', async () => {
    const { code, report, text } = await run('wrong', [
      '--workloads',
      'custom',
      '--q',
      '4',
      '--n',
      '30',
      '--d',
      '8',
      '--backend-module',
      wrongBackend,
    ]);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    const wrong = report.results.filter((r) => r.contender === 'wrong-backend');
    const matrix = wrong.find((r) => r.method.startsWith('cosineMatrix'))!;
    expect(matrix.status).toBe('wrong');
    expect(matrix.accuracy!.maxAbsError).toBeCloseTo(1e-3, 5);
    expect(matrix.ranBy).toBe('wrong');
    // Its corpus kernels fall back to the reference, which is right, and the report says so.
    const resident = wrong.find((r) => r.method === 'corpus.similarity')!;
    expect(resident.status).toBe('ok');
    expect(resident.ranBy).toBe('reference');
    expect(text).toContain('FAILED');
  });

  it('reports a backend that fails to start as not available, without failing', async () => {
    const { code, report } = await run('broken', [
      '--workloads',
      'custom',
      '--q',
      '2',
      '--n',
      '10',
      '--d',
      '4',
      '--backend-module',
      brokenBackend,
    ]);
    expect(code).toBe(0);
    const broken = report.contenders.find((c) => c.id === 'broken-backend')!;
    expect(broken.available).toBe(false);
    expect(broken.reason).toMatch(/no engine here/);
    // Alone, it leaves nothing measured, and the run does not claim its results are fine.
    const alone = await capture([
      '-p',
      'none',
      '-b',
      'reference',
      '--q',
      '2',
      '--n',
      '10',
      '--d',
      '4',
      '--no-json',
      '--no-svg',
    ]);
    expect(alone.out).toContain('All results within tolerance');
    const nothing = await capture([
      '-p',
      'none',
      '-b',
      '',
      '--backend-module',
      brokenBackend,
      '--q',
      '2',
      '--n',
      '10',
      '--d',
      '4',
      '--no-json',
      '--no-svg',
    ]);
    // Nothing measured is not a passing run (it exited 0).
    expect(nothing.code).toBe(2);
    expect(nothing.out).toContain('Nothing was measured');
    expect(nothing.out).not.toContain('All results within tolerance');
    expect(report.results.find((r) => r.contender === 'broken-backend')!.status).toBe('unavailable');
  });

  it('exits 2 before running anything on flags it would have ignored or failed on late (a probe found each)', async () => {
    const cases: [string[], RegExp][] = [
      [['-w', 'A', '--k', '5'], /needs --q, --n and --d/],
      [['-w', ''], /--workloads needs at least one name/],
      [['--json', ''], /--json needs a file name/],
      [['--markdown', ''], /--markdown needs a file name/],
      [['-w', 'A', '--baseline', 'nosuch'], /--baseline 'nosuch' names no contender/],
      [['-w', 'A', '-b', '', '-p', 'none'], /nothing to run/],
      [
        ['-w', 'A', '-b', 'wasm', '-p', 'none', '--baseline', 'wasm@7'],
        /--baseline 'wasm@7' is not among this run's contenders \(wasm\)/,
      ],
      [['--budget', '40000'], /--budget must be at most 3600/],
      [['-w', 'A', '--json', join(dir, 'no-such-file.json', 'x.json')], /--json/],
      [['-w', 'A', '--backend-module', join(dir, 'missing.mjs')], /--backend-module missing/],
      [['-w', 'sweep', '--markdown', join(dir, 's.md')], /sweep runs alone and does not take --markdown/],
      [['-w', 'sweep,A'], /sweep runs alone and does not take the other workloads \(A\)/],
      [['-w', 'roofline,sweep,A'], /sweep runs alone and does not take the other workloads \(A\)/],
      // roofline,sweep (the README's command) passes that check and reaches the grid's own.
      [['-w', 'roofline,sweep', '--grid', ''], /grid is empty/],
      [['-w', 'sweep', '--grid', 'q=1,,1'], /has an empty value/],
      [['-w', 'sweep', '--grid', 'q=1,1'], /repeats a value/],
      [['compare', 'a.json', 'b.json', '--threshold', 'abc'], /--threshold must be a fraction/],
      // A second probe: each of these ran (the whole grid, minutes of memory growth, a minute of
      // thread start-up, a "not available" row and exit 0) before it said anything.
      [['-w', 'sweep', '--grid', ''], /grid is empty/],
      [['-w', 'sweep', '--grid', ';;'], /grid is empty/],
      [['--q', '1000000000', '--n', '10', '--d', '4'], /query matrix of 4\.00e\+9 values/],
      [['--q', '1', '--n', '100000000', '--d', '100000', '--k', '1'], /corpus of 1\.00e\+13 values/],
      [['-b', 'wasm@1000', '-w', 'A'], /asks for 1000 threads; at most 256/],
      [['--threads', '1000', '-w', 'A'], /--threads must be at most 256/],
      [['-b', 'pgvector-hnsw@1001', '-p', 'none', '-w', 'A'], /pgvector-hnsw@1001: .*efSearch/],
      [['-b', 'wasm', '-p', 'none', '-w', 'A', '--wasm-tuning', 'tile=abc'], /wasm: .*tuning\.tile/],
      [['-w', 'roofline,foo'], /unknown workload 'foo'/],
      // A third probe: a scaled preset failed as a wrong result after starting, crossover started
      // a million threads, and a seed past 32 bits ran as another seed.
      [
        ['-w', 'B', '--scale', '1e6', '-p', 'none'],
        /--scale 1000000 makes workload B 1 x 100000000000 x 384/,
      ],
      [['crossover', '--threads', '999999'], /--threads must be at most 256/],
      [['-w', 'A', '--seed', '5000000000'], /--seed must be at most 4294967295/],
      // Output files: a file named '-', one report over another, and an option that does not exist.
      [
        ['-w', 'A', '--json', join(dir, 'dash.json'), '--svg', '-'],
        /--svg -: only --json writes to standard output/,
      ],
      [
        ['-w', 'A', '--json', join(dir, 'same.out'), '--svg', join(dir, 'same.out')],
        /is the file --json writes too/,
      ],
      [['-w', 'A', '--markdown', ''], /--markdown needs a file name \(or leave it out\)/],
      [['crossover', '--json', ''], /--json needs a file name/],
      // Flags the run would have ignored (exit 0), and a tuning pair with a second '='.
      [['-w', 'A', '-b', 'reference', '--grid', 'q=1'], /would ignore --grid/],
      [['-w', 'A', '-b', 'reference', '--wasm-tuning', 'tile=4x2'], /would ignore --wasm-tuning/],
      [['-w', 'A', '-b', 'reference', '--threads', '2'], /would ignore --threads/],
      [['-w', 'A', '-b', 'wasm', '--wasm-tuning', 'tile=4x2=3'], /expected key=value pairs/],
      [['-w', 'A,a', '-b', 'reference'], /workload 'A' is named twice/],
      [['-w', 'A', '-b', 'reference,reference'], /backend 'reference' is named twice/],
      [['crossover', '--json', dir], /--json .*: is a directory/],
      // A fourth probe: a flag given twice kept its last value (-w A -w B ran B alone); --scale on a
      // custom shape was dropped; a folder that cannot be made failed after the whole run; a module
      // exporting no factory ran as "not available".
      [['-w', 'A', '-w', 'B'], /-w is given twice/],
      [['--q', '2', '--n', '10', '--d', '4', '--q', '3', '-p', 'none'], /--q is given twice/],
      [['-b', 'reference', '--backends=wasm', '-w', 'A'], /--backends is given twice/],
      [['-w', 'A', '--json', join(dir, 'both.json'), '--no-json'], /--json and --no-json are both given/],
      [['--q', '2', '--n', '10', '--d', '4', '--scale', '0.5', '-p', 'none'], /would ignore --scale/],
      ...(process.platform === 'linux'
        ? ([
            [['-w', 'A', '-p', 'none', '--json', '/proc/cosinekit-nope/x.json'], /--json .*cannot be made/],
          ] as [string[], RegExp][])
        : []),
      [
        ['-w', 'A', '-p', 'none', '--backend-module', join(dir, 'five.mjs')],
        /five\.mjs: .*not a backend factory/,
      ],
      // A fifth probe: a path ending in a slash was checked as a file and failed after the run; a
      // link to the --json file let --svg overwrite it.
      [['-w', 'A', '-p', 'none', '--json', `${join(dir, 'not-yet')}/`], /--json .*names a directory/],
      [
        ['-w', 'A', '-p', 'none', '--json', join(dir, 'a.json'), '--svg', join(dir, 'b.json')],
        /--svg .*b\.json: is the file --json writes too/,
      ],
      // Configuration a backend refuses, found before any contender is measured (it came after 20 s
      // of other figures, which were thrown away).
      [
        ['-w', 'A', '-b', 'reference,wasm', '-p', 'naive', '--wasm-tuning', 'tile=abc'],
        /^cosinekit-bench: wasm: .*tuning\.tile/m,
      ],
      // Inputs once ignored without a word.
      [['-w', 'sweep', '--grid', 'q=1;n=5;d=8'], /fewer rows than the sweep's top-10 needs/],
      [['-w', 'mnist', '--scale', '0.1'], /would ignore --scale \(mnist has a fixed size\)/],
      [['-w', 'A', '--scale', '1e-300'], /would ignore --scale \(A has a fixed size\)/],
      [['-w', 'roofline', '-b', 'wasm'], /would ignore -b and -p/],
      // A module named like our backend was reported and judged as ours.
      [
        ['-w', 'A', '-b', '', '-p', 'naive', '--backend-module', join(dir, 'wasm.mjs')],
        /'wasm' takes the name of our backend/,
      ],
      // A sixth probe: crossover ran 1e9 reps until killed, backends started 1,000 threads for a
      // minute and exited 0, a tolerance past 2 passed every cosine, and '0x10' read as 16.
      [['crossover', '--reps', '1000000000'], /--reps must be at most 99/],
      [['backends', 'wasm@1000'], /asks for 1000 threads; at most 256/],
      [['backends', 'reference', 'reference'], /backend 'reference' is named twice/],
      [['-w', 'A', '--tolerance', '2'], /--tolerance must be at most 1/],
      [['--q', '0x10', '--n', '10', '--d', '4', '-p', 'none'], /--q must be an integer >= 1/],
      [['-w', 'A', '--scale', '0x1'], /--scale must be a positive number/],
      [['-w', 'A', '-b', 'wasm', '--wasm-tuning', 'tile=4x2,tile=2x2'], /tile is given twice/],
      [['-w', 'A', '-b', 'wasm@1', '--threads', '2'], /would ignore --threads \(every wasm backend names/],
      [['-w', 'nope', '--scale', '0.01'], /unknown workload 'nope'/],
    ];
    writeFileSync(join(dir, 'wasm.mjs'), 'export default 5;\n');
    writeFileSync(join(dir, 'a.json'), '{}');
    symlinkSync(join(dir, 'a.json'), join(dir, 'b.json'));
    writeFileSync(join(dir, 'no-such-file.json'), 'a file, not a directory');
    writeFileSync(join(dir, 'five.mjs'), 'export default 5;\n');
    for (const [args, message] of cases) {
      const sub = args[0] === 'compare' || args[0] === 'crossover' || args[0] === 'backends';
      const quiet = args.includes('--json') ? [] : ['--no-json', '--no-svg'];
      const r = await capture(sub ? args : [...args, '--no-progress', ...quiet]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(message);
      expect(r.out, args.join(' ')).not.toContain('All results within tolerance');
      expect(r.out, args.join(' ')).not.toMatch(/textbook loop/);
    }
  });

  it('a sweep whose every cell is skipped exits 2, nothing measured (it exited 0 with every target n/a)', async () => {
    const r = await capture(['-w', 'sweep', '--grid', 'q=1;n=99999999999;d=8', '--no-json', '--no-progress']);
    expect(r.out).toMatch(/skipped: needs .* GB of wasm memory/);
    expect(r.err).toMatch(/Nothing was measured: every cell of the grid was skipped/);
    expect(r.code).toBe(2);
  }, 120_000);

  it('a custom workload past the machine is refused by what it needs (customTooBig)', () => {
    expect(customTooBig({ q: 100, n: 1_000_000, d: 1000 }, 2 ** 30)).toMatch(
      /needs about 12\.\d+ GB of memory/,
    );
    expect(customTooBig({ q: 100, n: 1_000_000, d: 1000, k: 10 }, 64 * 2 ** 30)).toBeUndefined();
    expect(customTooBig({ q: 3, n: 2 ** 31, d: 2, k: 1 }, 2 ** 50)).toMatch(/corpus of 4\.29e\+9 values/);
  });

  it('exits 2 on an unknown backend or peer, listing the known ids, before running anything', async () => {
    const backend = await capture(['-b', 'nosuch', '--no-json', '--no-svg']);
    expect(backend.code).toBe(2);
    expect(backend.err).toMatch(/unknown backend 'nosuch' \(known: reference, wasm, .*tfjs-wasm.*gpujs/);
    expect(backend.out).not.toContain('All results within tolerance');
    const peer = await capture(['-b', 'reference', '-p', 'naive,nosuch', '--no-json', '--no-svg']);
    expect(peer.code).toBe(2);
    expect(peer.err).toMatch(/unknown peer 'nosuch' \(known: naive, core, tfjs-obvious, tfjs-fast\)/);
    // Known ids with a thread count or a gpu.js mode are not usage errors; a typo in them is.
    expect((await capture(['-b', 'wasm-simd@x', '--no-json', '--no-svg'])).code).toBe(2);
    expect((await capture(['-b', 'gpujs-webgl3', '--no-json', '--no-svg'])).code).toBe(2);
    const listed = await capture(['backends', 'nosuch']);
    expect(listed.code).toBe(2);
    expect(listed.err).toMatch(/unknown backend 'nosuch' \(known: /);
  });

  it('runs the backends alone with -p none, with the wasm tuning asked for', async () => {
    const { code, report } = await run('tuned', [
      '-b',
      'wasm@1',
      '-p',
      'none',
      '--wasm-tuning',
      'tile=2x2,blockBytes=65536',
      '--q',
      '3',
      '--n',
      '40',
      '--d',
      '8',
    ]);
    expect(code).toBe(0);
    expect(report.contenders.map((c) => c.id)).toEqual(['wasm@1']);
    expect(report.contenders[0].details).toMatchObject({ tile: '2x2' });
  });

  it("times the ratio targets' calls again side by side, and judges them on that, unless --no-side-by-side", async () => {
    const paired = await run('paired', ['-w', 'A', '-b', 'reference', '--budget', '0.1']);
    expect(paired.code).toBe(0);
    const pairs = paired.report.paired ?? [];
    expect(pairs.map((p) => [p.workload, p.a.contender, p.b.contender, p.b.method.split(' ')[0]])).toEqual([
      ['A', 'core', 'naive', 'textbook'],
      ['A', 'core', 'naive', 'tuned'],
    ]);
    for (const p of pairs) {
      expect(p.rounds).toBeGreaterThanOrEqual(3);
      expect(Number.isFinite(p.ratio) && p.ratio > 0).toBe(true);
    }
    expect(paired.report.settings.sideBySide).toBeUndefined();
    expect(paired.text).toMatch(
      /A: core cosine\(\) >= 1\.5x the naive loop +│ \d+\.\d+x side by side \(\d+\.\d+x apart\)/,
    );
    const apart = await run('apart', ['-w', 'A', '-b', 'reference', '--budget', '0.1', '--no-side-by-side']);
    expect(apart.code).toBe(0);
    expect(apart.report.paired).toBeUndefined();
    expect(apart.report.settings.sideBySide).toBe(false);
    expect(apart.text).toMatch(/A: core cosine\(\) >= 1\.5x the naive loop +│ \d+\.\d+x +│/);
    expect(apart.text).not.toContain('side by side');
  });

  it('prints its version', async () => {
    for (const flag of ['--version', '-V']) {
      const { code, out } = await capture([flag]);
      expect(code).toBe(0);
      expect(out).toBe(`cosinekit-bench ${VERSION}`);
    }
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(VERSION).toBe(pkg.version);
  });

  it('writes the JSON report to standard output with --json -, the table to standard error', async () => {
    const { code, out, err } = await capture([
      '-b',
      'reference',
      '-p',
      'naive',
      '--q',
      '2',
      '--n',
      '20',
      '--d',
      '8',
      '--reps',
      '3',
      '--budget',
      '0.2',
      '--no-svg',
      '--json',
      '-',
    ]);
    expect(code).toBe(0);
    const report = parseReport(out);
    expect(report.results.filter((r) => r.status === 'ok').length).toBeGreaterThanOrEqual(2);
    expect(stripVTControlCharacters(err)).toContain('All results within tolerance');
  });

  it('accepts --no-color anywhere and then prints no colour codes (--color forces them)', async () => {
    const shape = ['--q', '2', '--n', '20', '--d', '8', '--reps', '3', '--budget', '0.2'];
    const forced = await capture([
      '--color',
      '-b',
      'reference',
      '-p',
      'naive',
      ...shape,
      '--no-json',
      '--no-svg',
    ]);
    expect(forced.out).toContain(ESC);
    const plain = await capture([
      '--no-color',
      '-b',
      'reference',
      '-p',
      'naive',
      '--q',
      '2',
      '--n',
      '20',
      '--d',
      '8',
      '--reps',
      '3',
      '--budget',
      '0.2',
      '--no-json',
      '--no-svg',
    ]);
    expect(plain.code).toBe(0);
    expect(plain.out).toContain('All results within tolerance');
    expect(plain.out).not.toContain(ESC);
    const listed = await capture(['backends', 'reference', '--no-color']);
    expect(listed.code).toBe(0);
    expect(listed.out).not.toContain(ESC);
    expect(listed.out).toMatch(/reference\s+engine=TypeScript/);
  });

  it('reports resident memory a backend still holds after every corpus was disposed', async () => {
    // A shape without --workloads runs just that shape.
    const { code, report, text } = await run('leaky', [
      '--q',
      '2',
      '--n',
      '40',
      '--d',
      '8',
      '--k',
      '3',
      '--backend-module',
      leakyBackend,
    ]);
    expect(code).toBe(0);
    expect(report.workloads.map((w) => w.id)).toEqual(['custom']);
    expect(report.contenders.find((c) => c.id === 'leaky-backend')!.leak).toMatch(/resident handle/);
    expect(report.contenders.find((c) => c.id === 'reference')!.leak).toBeUndefined();
    expect(text).toContain('LEAK');
  });

  it('lists backends with what they run on, or why they cannot run', async () => {
    const lines: string[] = [];
    const io: Io = { out: (t) => lines.push(t), err: (t) => lines.push(t), progress: false };
    expect(await main(['backends', 'reference', 'gpujs-cpu'], io)).toBe(0);
    // Colour depends on the environment (picocolors colours under CI=true): compare plain text.
    const text = stripVTControlCharacters(lines.join('\n'));
    expect(text).toMatch(/reference\s+engine=TypeScript.*runs (\d+) of \1 kernels itself/);
    expect(text).toMatch(/gpujs-cpu\s+/);
  });

  it('prints no colour codes off a terminal under CI=true (picocolors colours there), unless asked', async () => {
    const env = { CI: process.env.CI, NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR };
    const tty = process.stdout.isTTY;
    process.env.CI = 'true';
    delete process.env.NO_COLOR;
    delete process.env.FORCE_COLOR;
    process.stdout.isTTY = false;
    try {
      const plain = await capture(['backends', 'reference']);
      expect(plain.code).toBe(0);
      expect(plain.out).not.toContain(ESC);
      const forced = await capture(['backends', 'reference', '--color']);
      expect(forced.out).toContain(ESC);
    } finally {
      process.stdout.isTTY = tty;
      for (const [k, v] of Object.entries(env))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      await capture(['backends', 'reference']);
    }
  });

  it('exits 2 on a usage error, 0 on --help', async () => {
    const io: Io = { out: () => {}, err: () => {}, progress: false };
    expect(await main(['--reps', 'x'], io)).toBe(2);
    expect(await main(['--workloads', 'Z', '--no-json', '--no-svg'], io)).toBe(2);
    expect(await main(['--wasm-tuning', 'tile=4x2,nosuch=1', '--no-json', '--no-svg'], io)).toBe(2);
    expect(await main(['--wasm-tuning', 'blockBytes=-1', '--no-json', '--no-svg'], io)).toBe(2);
    expect(await main(['--help'], io)).toBe(0);
    // The crossover's own flags, after the subcommand.
    const help = await capture(['crossover', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--variant <v>.*simd.*relaxed/s);
    expect((await capture(['crossover', '--variant', 'sse'])).code).toBe(2);
  });

  it("names an unknown subcommand and lists the commands (it said 'too many arguments'); `help` prints the usage", async () => {
    const wrong = await capture(['frobnicate']);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/unknown command 'frobnicate'/);
    expect(wrong.err).toMatch(/compare.*crossover.*backends/);
    expect(wrong.err).not.toMatch(/too many arguments/);
    const help = await capture(['help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Usage: cosinekit-bench/);
    // A command's extra words are still refused.
    const extra = await capture(['compare', 'a.json', 'b.json', 'c.json']);
    expect(extra.code).toBe(2);
    expect(extra.err).toMatch(/too many arguments for 'compare'/);
    const sub = await capture(['help', 'compare']);
    expect(sub.code).toBe(0);
    expect(sub.out).toMatch(/Usage: cosinekit-bench compare/);
  });

  it('compare names the file and the field a report gets wrong (it printed NaN, -5 ns or undefined as figures)', async () => {
    const good = JSON.parse(readFileSync(join(dir, 'matrix.json'), 'utf8'));
    const write = (name: string, body: unknown) => {
      const path = join(dir, name);
      writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
      return path;
    };
    const first = good.results[0];
    for (const [name, body, message] of [
      [
        'fast.json',
        { ...good, results: [{ ...first, nsPerPair: 'fast' }] },
        /results\[0\]\.nsPerPair is "fast"/,
      ],
      ['negative.json', { ...good, results: [{ ...first, nsPerPair: -5 }] }, /results\[0\]\.nsPerPair is -5/],
      ['bare.json', { ...good, results: [{ workload: 'A' }] }, /results\[0\]\.contender is missing/],
      ['null.json', { ...good, results: [null] }, /results\[0\] is not a result object/],
      ['noenv.json', { ...good, environment: undefined }, /has no environment/],
      ['broken.json', '{x', /broken\.json is not JSON/],
      // Figures that contradict each other, and a row twice (a probe: compared as "same" or "ok").
      [
        'huge.json',
        { ...good, results: [{ ...first, nsPerPair: 1e308 }] },
        /results\[0\]\.nsPerPair is 1e\+308, but its timing's median gives/,
      ],
      [
        'zero.json',
        { ...good, results: [{ ...first, nsPerPair: 0, timing: undefined }] },
        /results\[0\]\.nsPerPair is 0 for a result that ran/,
      ],
      [
        'unordered.json',
        { ...good, results: [{ ...first, timing: { ...first.timing, min: first.timing.max * 2 } }] },
        /results\[0\]\.timing is not ordered/,
      ],
      ['twice.json', { ...good, results: [first, first] }, /results\[1\] repeats/],
    ] as const) {
      const path = write(name, body);
      const r = await capture(['compare', path, join(dir, 'matrix.json')]);
      expect(r.code, name).toBe(2);
      expect(r.err, name).toMatch(message);
      expect(r.out, name).not.toMatch(/NaN|undefined/);
    }
    expect((await capture(['compare', dir, join(dir, 'matrix.json')])).err).toMatch(/cannot be read: EISDIR/);
  });

  it('compares two reports', async () => {
    const lines: string[] = [];
    const io: Io = { out: (t) => lines.push(t), err: (t) => lines.push(t), progress: false };
    const a = join(dir, 'matrix.json');
    const code = await main(['compare', a, a], io);
    expect(code).toBe(0);
    expect(stripVTControlCharacters(lines.join('\n'))).toContain('0 faster, 0 slower');
  });
});
