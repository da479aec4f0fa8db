import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DONE, FAILED, JOB_ARGS, JOB_KIND, KIND_DOTS, KIND_DOTS_I8, KIND_STOP, SEQ } from '../src/control.js';

const LAYOUT = { SEQ, DONE, FAILED, JOB_KIND, JOB_ARGS, KIND_DOTS, KIND_DOTS_I8, KIND_STOP };

describe('helper thread script', () => {
  it('repeats the control block layout of control.ts exactly', () => {
    const src = readFileSync(new URL('../src/worker.ts', import.meta.url), 'utf8');
    for (const [name, value] of Object.entries(LAYOUT)) {
      const m = new RegExp(`const ${name} = (\\d+);`).exec(src);
      expect(m, name).not.toBeNull();
      expect(Number(m![1]), name).toBe(value);
    }
  });

  it('compiles to a file without runtime imports', () => {
    const js = readFileSync(new URL('../dist/worker.js', import.meta.url), 'utf8');
    expect(js).not.toMatch(/^import /m);
  });
});
