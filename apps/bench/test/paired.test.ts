import { describe, expect, it } from 'vitest';
import type { Contender, Method } from '../src/method.js';
import { naiveCosine } from '../src/peers/naive.js';
import { checkTargets } from '../src/report/targets.js';
import { runSuite } from '../src/run.js';
import type { RunSettings } from '../src/types.js';
import { PRESETS } from '../src/workloads.js';

const settings: RunSettings = {
  workloads: ['A'],
  backends: [],
  peers: [],
  reps: 3,
  warmup: 1,
  budgetSeconds: 0.05,
  baseline: 'naive',
  tolerance: 1e-4,
  seed: 3,
};
const environment = { runtime: 'test', platform: 'test', cpu: 'test', cores: 1, wasmSimd: 'simd' };

/** The cosine of the dataset's pair, `passes` times over (a slower call, the same answer). */
const pairMethod = (name: string, passes: number, wrongFrom = Number.POSITIVE_INFINITY): Method => ({
  name,
  prepare(ds) {
    let calls = 0;
    return {
      call() {
        let value = 0;
        for (let p = 0; p < passes; p++) value = naiveCosine(ds.queries, ds.corpus);
        return { value: ++calls > wrongFrom ? value + 0.5 : value };
      },
    };
  },
});

/** A contender with one method; `opens` counts its opens, and `failFrom` makes later opens' prepare throw. */
function contender(id: string, method: () => Method, failFrom = Number.POSITIVE_INFINITY) {
  const state = { opens: 0, closes: 0 };
  const c: Contender = {
    id,
    role: 'peer',
    async open() {
      const at = ++state.opens;
      return {
        info: { id, role: 'peer', available: true },
        methods: () => {
          const m = method();
          return [
            at >= failFrom
              ? {
                  ...m,
                  prepare: () => {
                    throw new Error('prepare failed');
                  },
                }
              : m,
          ];
        },
        close: async () => {
          state.closes++;
        },
      };
    },
  };
  return { c, state };
}

describe('ratio targets timed side by side', () => {
  it('times the two calls of a ratio target again in turn, checks their answers, and judges the target on that ratio', async () => {
    const naive = contender('naive', () => pairMethod('textbook loop', 8));
    const core = contender('core', () => pairMethod('cosine(a, b)', 1));
    const r = await runSuite({
      workloads: [PRESETS.A],
      contenders: [naive.c, core.c],
      settings,
      environment,
    });
    expect(r.paired).toHaveLength(1);
    const [p] = r.paired!;
    expect(p).toMatchObject({
      workload: 'A',
      a: { contender: 'core', method: 'cosine(a, b)' },
      b: { contender: 'naive', method: 'textbook loop' },
    });
    expect(p.rounds).toBeGreaterThanOrEqual(3);
    expect(p.a.median).toBeGreaterThan(0);
    expect(p.b.median).toBeGreaterThan(p.a.median);
    // Eight passes against one: well past 1.5x whatever the load.
    expect(p.ratio).toBeGreaterThan(2);
    const t = checkTargets(r).find((x) => x.target.startsWith('A: core cosine() >= 1.5x'))!;
    expect(t.met).toBe(true);
    expect(t.measured).toMatch(/^\d+\.\d+x side by side \(\d+\.\d+x apart\)$/);
    expect(t.measured.startsWith(`${p.ratio.toFixed(2)}x`)).toBe(true);
    // Each contender was opened twice (its figures, then the pair) and closed as often.
    expect([naive.state, core.state]).toEqual([
      { opens: 2, closes: 2 },
      { opens: 2, closes: 2 },
    ]);
  });

  it('leaves a pair out, and the target on the figures measured apart, where a call fails or answers wrong there; a wrong answer there fails the run', async () => {
    const failing = await runSuite({
      workloads: [PRESETS.A],
      contenders: [
        contender('naive', () => pairMethod('textbook loop', 4)).c,
        contender('core', () => pairMethod('cosine(a, b)', 1), 2).c,
      ],
      settings,
      environment,
    });
    expect(failing.paired).toBeUndefined();
    expect(
      checkTargets(failing).find((x) => x.target.startsWith('A: core cosine() >= 1.5x'))!.measured,
    ).toMatch(/^\d+\.\d+x$/);
    // Right in its own figure (the last call of its reps), wrong in the side-by-side rounds.
    let opens = 0;
    const wrongLater = contender('core', () =>
      pairMethod('cosine(a, b)', 1, ++opens > 1 ? 3 : Number.POSITIVE_INFINITY),
    );
    const wrong = await runSuite({
      workloads: [PRESETS.A],
      contenders: [contender('naive', () => pairMethod('textbook loop', 4)).c, wrongLater.c],
      settings,
      environment,
    });
    // Right in its own figure, wrong beside the other: the figure is wrong and the run fails (it
    // only left the pair out; a review).
    expect(wrong.paired).toBeUndefined();
    expect(wrong.ok).toBe(false);
    expect(wrong.results.find((x) => x.contender === 'core')).toMatchObject({
      status: 'wrong',
      note: expect.stringMatching(/^WRONG in the side-by-side rounds: max error/),
    });
    expect(wrong.results.find((x) => x.contender === 'naive')?.status).toBe('ok');
    expect(wrongLater.state).toEqual({ opens: 2, closes: 2 });
  });

  it('does no side-by-side pass with sideBySide false', async () => {
    const r = await runSuite({
      workloads: [PRESETS.A],
      contenders: [
        contender('naive', () => pairMethod('textbook loop', 4)).c,
        contender('core', () => pairMethod('cosine(a, b)', 1)).c,
      ],
      settings: { ...settings, sideBySide: false },
      environment,
    });
    expect(r.paired).toBeUndefined();
    expect(checkTargets(r).find((x) => x.target.startsWith('A: core cosine() >= 1.5x'))!.measured).toMatch(
      /^\d+\.\d+x$/,
    );
  });
});
