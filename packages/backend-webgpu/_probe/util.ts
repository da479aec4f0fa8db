import { createCosineKit, type CosineKit } from '@cosinekit/core';
import { createReferenceBackend } from '@cosinekit/core/backend';
import { createWebGpuBackend, type WebGpuBackend } from '../src/index.js';

export function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296 * 2 - 1;
  };
}

export function cos64(a: Float32Array, b: Float32Array): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na === 0 || nb === 0) return 0;
  return Math.max(-1, Math.min(1, d / Math.sqrt(na) / Math.sqrt(nb)));
}

export const fallbacks: string[] = [];
export function webgpuKit(opts: Parameters<typeof createWebGpuBackend>[0] = {}): { kit: CosineKit; backend: WebGpuBackend } {
  const backend = createWebGpuBackend(opts);
  const kit = createCosineKit({ backend, onFallback: (e: unknown) => fallbacks.push(JSON.stringify(e)) } as any);
  return { kit, backend };
}
export function refKit(): CosineKit {
  return createCosineKit({ backend: createReferenceBackend() });
}

export type Rows = Float32Array[];

/**
 * Checks a top-k answer against float64: count, distinct, in range, non-increasing, each score within
 * tol of the float64 cosine of the row it names, completeness (no left-out row beats the last by more
 * than tol), equal returned scores in ascending index order. Returns a list of problems.
 */
export function checkTopK(
  label: string,
  queries: Rows,
  rows: Rows,
  k: number,
  indices: Int32Array,
  scores: Float32Array,
  tol: number | ((row: number) => number),
  complete = true,
  cosf?: (q: number, i: number) => number,
): string[] {
  const C = cosf ?? ((q: number, i: number) => cos64(queries[q], rows[i]));
  const out: string[] = [];
  const N = rows.length;
  const T = (r: number) => (typeof tol === 'number' ? tol : tol(r));
  if (indices.length !== queries.length * k) out.push(`${label}: ${indices.length} indices, want ${queries.length * k}`);
  for (let q = 0; q < queries.length; q++) {
    const idx = indices.subarray(q * k, (q + 1) * k);
    const sc = scores.subarray(q * k, (q + 1) * k);
    const seen = new Set<number>();
    let bad = 0;
    for (let j = 0; j < k; j++) {
      const i = idx[j];
      if (!(i >= 0 && i < N) || seen.has(i)) {
        out.push(`${label} q=${q}: bad/duplicate index ${i} at ${j}`);
        bad++;
        continue;
      }
      seen.add(i);
      if (!Number.isFinite(sc[j])) out.push(`${label} q=${q}: score ${sc[j]} at ${j}`);
      if (j > 0 && sc[j] > sc[j - 1]) out.push(`${label} q=${q}: scores rise at ${j}: ${sc[j - 1]} -> ${sc[j]}`);
      if (j > 0 && sc[j] === sc[j - 1] && idx[j] < idx[j - 1])
        out.push(`${label} q=${q}: tie ${sc[j]} not in index order at ${j}: ${idx[j - 1]} then ${idx[j]}`);
      const want = C(q, i);
      if (!(Math.abs(sc[j] - want) <= T(i)))
        out.push(`${label} q=${q}: row ${i} score ${sc[j]} vs float64 ${want} (diff ${(sc[j] - want).toExponential(2)}, tol ${T(i).toExponential(2)})`);
      if (bad > 3 || out.length > 12) break;
    }
    if (complete && seen.size === k) {
      const last = sc[k - 1];
      for (let i = 0; i < N; i++) {
        if (seen.has(i)) continue;
        const c = C(q, i);
        if (c > last + T(i) + 1e-7) {
          out.push(`${label} q=${q}: left-out row ${i} has float64 ${c} > last score ${last}`);
          break;
        }
      }
    }
    if (out.length > 12) break;
  }
  return out;
}

export function toRows(flat: Float32Array, d: number): Rows {
  const r: Rows = [];
  for (let i = 0; i < flat.length / d; i++) r.push(flat.subarray(i * d, (i + 1) * d));
  return r;
}

export async function settle<T>(p: Promise<T> | (() => Promise<T>)): Promise<{ ok: T } | { err: any }> {
  try {
    return { ok: await (typeof p === 'function' ? p() : p) };
  } catch (e) {
    return { err: e };
  }
}

export function errText(e: any): string {
  if (!e) return String(e);
  return `${e?.constructor?.name}${e?.code ? `[${e.code}]` : ''}: ${String(e?.message).slice(0, 300)}${e?.cause ? ` (cause ${e.cause?.constructor?.name}: ${String(e.cause?.message).slice(0, 200)})` : ''}`;
}

export function cosTable(queries: Rows, rows: Rows): Float64Array {
  const t = new Float64Array(queries.length * rows.length);
  for (let q = 0; q < queries.length; q++) for (let i = 0; i < rows.length; i++) t[q * rows.length + i] = cos64(queries[q], rows[i]);
  return t;
}

/**
 * navigator.gpu, but its adapters claim to be hardware (vendor 'probe', architecture 'probe'):
 * the backend then applies no software-adapter loop refusals and uses its hardware budgets, while
 * the work still runs on SwiftShader. Also exposes the last device opened (for loss tests).
 */
export const opened: GPUDevice[] = [];
export function gpuEntry(fakeHardware: boolean) {
  return {
    get wgslLanguageFeatures() {
      return navigator.gpu.wgslLanguageFeatures;
    },
    async requestAdapter(o?: any) {
      const a = await navigator.gpu.requestAdapter(o);
      if (!a) return null;
      const info = fakeHardware
        ? { vendor: 'probe', architecture: 'probe', description: 'probe adapter', device: '' }
        : a.info;
      return {
        features: a.features,
        limits: a.limits,
        info,
        async requestDevice(d: any) {
          const dev = await a.requestDevice(d);
          opened.push(dev);
          return dev;
        },
      };
    },
  };
}
