import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JOBS } from '../src/control.js';
import { enableRelaxedInNode } from '../src/loader.js';

/** name -> parameter count of each member of the generated WasmExports interface. */
function declared(): Map<string, number> {
  const src = readFileSync(new URL('../src/generated/exports.ts', import.meta.url), 'utf8');
  const out = new Map<string, number>();
  for (const m of src.matchAll(/^ {2}(\w+)\((.*)\): \w+;$/gm)) {
    out.set(m[1], m[2] === '' ? 0 : m[2].split(', ').length);
  }
  return out;
}

describe('the generated types of the exports (scripts/exports.mjs)', () => {
  for (const file of ['simd', 'relaxed', 'simd-threads', 'relaxed-threads']) {
    it(`name every function cosinekit-${file}.wasm exports, with its parameter count`, async () => {
      if (file.startsWith('relaxed')) await enableRelaxedInNode();
      const bytes = readFileSync(new URL(`../dist/cosinekit-${file}.wasm`, import.meta.url));
      const module = await WebAssembly.compile(bytes);
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
      const imports: WebAssembly.Imports = file.endsWith('threads') ? { env: { memory } } : {};
      const { exports } = await WebAssembly.instantiate(module, imports);
      const functions = Object.entries(exports).filter(([, v]) => typeof v === 'function');
      const types = declared();
      expect(types.size).toBeGreaterThan(10);
      expect(new Map(functions.map(([name, f]) => [name, (f as () => void).length]))).toEqual(types);
    });
  }

  it('the jobs helper threads run are exports', () => {
    for (const job of JOBS) expect(declared().has(job), job).toBe(true);
  });
});
