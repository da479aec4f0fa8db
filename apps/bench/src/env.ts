import os from 'node:os';
import { wasmSimdLevel } from './simd.js';
import { timerDescription } from './timing.js';
import type { Environment } from './types.js';

/** The Node machine the run is on. The backends' own descriptions are reported per contender. */
export function nodeEnvironment(): Environment {
  const cpus = os.cpus();
  const usable = os.availableParallelism?.() ?? cpus.length;
  return {
    runtime: `Node ${process.version} (V8 ${process.versions.v8})`,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    // Under `taskset -c 1` the line said 2 cores while the backends saw 1.
    ...(usable < cpus.length ? { usableCores: usable } : {}),
    wasmSimd: wasmSimdLevel(),
    timer: timerDescription(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
  };
}
