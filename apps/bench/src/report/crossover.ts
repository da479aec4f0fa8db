import Table from 'cli-table3';
import type { CrossoverReport } from '../crossover.js';
import { pc } from './colour.js';
import { fmtMs } from './format.js';

const mega = (x: number) => (x / 1e6).toFixed(2);

/** The crossover as a terminal table: per size, one thread against several, and the default's choice. */
export function renderCrossover(r: CrossoverReport): string {
  const table = new Table({
    head: [
      'Storage',
      'm x n x d',
      'M ops (2mnd)',
      '1 thread',
      `${r.threads} threads`,
      'Speed-up',
      'Default',
    ].map((h) => pc.bold(h)),
    style: { head: [], border: [] },
  });
  for (const row of r.rows) {
    const spread = (t: typeof row.one) => `${fmtMs(t.median)} (${fmtMs(t.min)}-${fmtMs(t.max)})`;
    const paid = row.speedup > 1;
    table.push([
      row.storage,
      `${row.m} x ${row.n} x ${row.d}`,
      mega(row.ops),
      spread(row.one),
      spread(row.many),
      (paid ? pc.green : pc.yellow)(`${row.speedup.toFixed(2)}x`),
      row.sharedByDefault ? 'shared' : 'alone',
    ]);
  }
  const be = (x: number | undefined) =>
    x === undefined ? 'not within the sizes measured' : `${mega(x)} M ops`;
  return [
    pc.dim(
      `wasm ${r.variant}: 1 thread against ${r.threads} with sharing forced (threadMinFlops = threadMinFlopsI8 = 0); medians of samples, min-max in brackets${r.threadsNote ? `; ${r.threadsNote}` : ''}`,
    ),
    table.toString(),
    `Sharing pays from: float32 ${be(r.breakEven.float32)}, int8 ${be(r.breakEven.int8)}.`,
    `Default thresholds: threadMinFlops ${mega(r.defaults.threadMinFlops)} M, threadMinFlopsI8 ${mega(r.defaults.threadMinFlopsI8)} M ("Default": whether a call that size is shared).`,
  ].join('\n');
}
