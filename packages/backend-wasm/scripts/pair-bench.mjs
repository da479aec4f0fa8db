#!/usr/bin/env node
/**
 * One pair of Float32Arrays at a time: `createWasmPair().cosine` against `cosine()` from
 * @cosinekit/core, at d = 768, 1024 and 3072. Each function runs in 30 interleaved rounds of
 * 10,000 calls; the fastest round of each is reported (the least disturbed by other load on the
 * machine). Run `pnpm build` first (core and this package).
 *
 * Usage: node scripts/pair-bench.mjs
 */
import { cosine } from '@cosinekit/core';
import { createWasmPair } from '../dist/index.js';

const ROUNDS = 30;
const CALLS = 10_000;
const pair = await createWasmPair();
let sink = 0;

for (const d of [768, 1024, 3072]) {
  const a = Float32Array.from({ length: d }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: d }, (_, i) => Math.cos(i * 0.7));
  const fns = { core: () => cosine(a, b), wasm: () => pair.cosine(a, b) };
  const best = { core: Number.POSITIVE_INFINITY, wasm: Number.POSITIVE_INFINITY };
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, f] of Object.entries(fns)) {
      const t = performance.now();
      for (let i = 0; i < CALLS; i++) sink += f();
      best[name] = Math.min(best[name], ((performance.now() - t) * 1e6) / CALLS);
    }
  }
  const ratio = best.core / best.wasm;
  console.log(
    `d=${d}  core cosine() ${best.core.toFixed(0)} ns  wasm pair ${best.wasm.toFixed(0)} ns  ${ratio.toFixed(1)}x`,
  );
}
pair.dispose();
// Every result was used, so no call could be optimised away.
if (Number.isNaN(sink)) throw new Error('pair-bench: a cosine was NaN');
