/**
 * One WebGPU device and what hangs off it: compiled pipelines (cached per shape family), a pool of
 * storage buffers, the limits work is tiled to, and the rules for a lost device.
 */
import { argError } from '@cosinekit/core/backend';
import {
  findEntry,
  isLoopLimited,
  isSoftwareAdapter,
  openDevice,
  type WebGpuEntry,
  type WebGpuLimits,
} from './gpu.js';

const STORAGE = 0x80; // GPUBufferUsage.STORAGE
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const MAP_READ = 0x01;
const UNIFORM = 0x40;
const MAP_MODE_READ = 0x01;

/** A storage buffer lent by the pool; `size` is what was asked, the buffer may be larger. */
export interface Lease {
  readonly buffer: GPUBuffer;
  readonly size: number;
}

/** Idle pooled buffers are kept up to this many bytes; older ones are destroyed beyond it. */
const POOL_IDLE_BYTES = 256 * 1024 * 1024;

/** Rounds a size up to its pool bucket: powers of two up to 1 MiB, then 1 MiB steps... by 1/8ths. */
function bucket(bytes: number): number {
  const b = Math.max(256, bytes);
  if (b <= 1 << 20) return 2 ** Math.ceil(Math.log2(b));
  const step = 2 ** (Math.floor(Math.log2(b)) - 3);
  return Math.ceil(b / step) * step;
}

/**
 * Refuses an input this device cannot hold or dispatch (a row past one storage binding, more
 * workgroups than a dispatch allows): `UNSUPPORTED`, a documented limit rather than a broken backend.
 */
export function beyondLimits(problem: string): never {
  return argError('UNSUPPORTED', 'webgpu', 'input', `is beyond this WebGPU device's limits: ${problem}.`);
}

/** Loop iterations per invocation a software adapter is trusted with (llvmpipe stops at 65,535). */
export const LOOP_LIMIT = 64_000;

export class Engine {
  readonly device: GPUDevice;
  readonly adapterInfo: { vendor: string; architecture: string; description: string; device: string };
  readonly software: boolean;
  /**
   * Whether the adapter leaves shader loops after 65,535 iterations per invocation (Mesa's
   * llvmpipe and lavapipe). SwiftShader is software too but runs loops of millions exactly.
   */
  readonly loopLimited: boolean;
  readonly source: string;
  readonly compatibility: boolean;
  readonly features: string[];
  readonly packedDot: boolean;
  /** Effective limits: the device's, lowered by the options. */
  readonly limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeWorkgroupsPerDimension: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxStorageBuffersPerShaderStage: number;
  };
  /** Set once the device is lost; every later call throws it. */
  lostReason: string | null = null;
  readonly resident = new Set<{ release(): void }>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  readonly #idle = new Map<string, GPUBuffer[]>();
  #idleBytes = 0;
  #idleOrder: { key: string; buffer: GPUBuffer }[] = [];
  /** Buffers created and not destroyed (pooled idle ones included). */
  liveBuffers = 0;
  /** Bytes of live buffers. */
  liveBytes = 0;
  /** Buffers lent out or resident (not idle in the pool). */
  inUseBuffers = 0;
  inUseBytes = 0;
  #destroyed = false;
  #gpuError: { oom: boolean; message: string } | null = null;
  /** Settles once {@link Engine.destroy} has destroyed the device. */
  #gone: Promise<void> = Promise.resolve();
  /** The device's `uncapturederror` listener, removed by {@link Engine.destroy}. */
  readonly #onError: (ev: Event) => void;

  /** Throws the device error raised since the last check, if any. */
  #raise(): void {
    const e = this.#gpuError;
    if (!e) return;
    this.#gpuError = null;
    if (e.oom) {
      argError('OUT_OF_MEMORY', 'webgpu', 'backend', `ran out of WebGPU device memory: ${e.message}`);
    }
    // Typed for a caller of the kernels themselves too (the kit renames it after its operation).
    argError('BACKEND_ERROR', 'webgpu', 'backend', `reported a WebGPU error: ${e.message}`);
  }

  private constructor(
    device: GPUDevice,
    adapter: GPUAdapter,
    source: string,
    compatibility: boolean,
    packedDot: boolean,
    limits: WebGpuLimits,
  ) {
    this.device = device;
    this.source = source;
    this.compatibility = compatibility;
    this.packedDot = packedDot;
    const info = (adapter as unknown as { info?: GPUAdapterInfo }).info;
    this.adapterInfo = {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      description: info?.description ?? '',
      device: info?.device ?? '',
    };
    this.software = isSoftwareAdapter(this.adapterInfo);
    this.loopLimited = isLoopLimited(this.adapterInfo);
    this.features = [...device.features].sort();
    const d = device.limits;
    const low = (name: keyof WebGpuLimits) =>
      Math.min(d[name] as number, limits[name] ?? Number.POSITIVE_INFINITY);
    this.limits = {
      maxStorageBufferBindingSize: low('maxStorageBufferBindingSize'),
      maxBufferSize: low('maxBufferSize'),
      maxComputeWorkgroupStorageSize: low('maxComputeWorkgroupStorageSize'),
      maxComputeWorkgroupsPerDimension: low('maxComputeWorkgroupsPerDimension'),
      maxComputeInvocationsPerWorkgroup: d.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: d.maxStorageBuffersPerShaderStage,
    };
    // Validation and memory errors reach no promise of ours: keep the first, and fail the call.
    // Removed again by destroy(): Dawn's Node binding holds a device's listeners from native code,
    // so one left behind (it holds this engine, which holds the device) kept every destroyed
    // device's native memory alive, 2.6-3.4 MB per backend made and disposed.
    this.#onError = (ev: Event) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.#gpuError ??= {
        oom: err.constructor?.name === 'GPUOutOfMemoryError',
        message: err.message.split('\n')[0],
      };
    };
    device.addEventListener('uncapturederror', this.#onError);
    void device.lost.then((info) => {
      if (!this.#destroyed) this.lostReason = `${info.reason ?? 'unknown'}: ${info.message || 'no message'}`;
    });
  }

  static async open(options: {
    gpu?: WebGpuEntry;
    limits?: WebGpuLimits;
    powerPreference?: 'low-power' | 'high-performance';
  }): Promise<Engine> {
    const { entry, source } = await findEntry(options.gpu);
    const { adapter, device, compatibility } = await openDevice(entry, source, options.powerPreference);
    const packedDot = entry.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product') ?? false;
    return new Engine(device, adapter, source, compatibility, packedDot, options.limits ?? {});
  }

  /**
   * Refuses, on a software adapter, a dispatch whose invocations would each run more than
   * {@link LOOP_LIMIT} loop iterations (`count`, as the kernels' loops add up): llvmpipe counts every
   * loop iteration of an invocation against 65,535 and leaves loops silently once it is spent, so
   * the result would be wrong without a word (scores of long rows cut short). `UNSUPPORTED` naming
   * `op` and `arg`; hardware adapters have no such limit.
   */
  loops(op: string, arg: string, count: number, what: string): void {
    if (this.loopLimited && count > LOOP_LIMIT) {
      argError(
        'UNSUPPORTED',
        op,
        arg,
        `needs ${what}: ${count} loop iterations per shader invocation, past the ${LOOP_LIMIT} this backend allows on this adapter (${this.adapterInfo.device || this.adapterInfo.description || this.adapterInfo.architecture}: Mesa's llvmpipe), which leaves loops silently once an invocation has run 65,535. Use a hardware adapter, SwiftShader (Chromium) or another backend for rows this long.`,
      );
    }
  }

  /** Whether a call has already reported the device's loss (the next one opens a fresh device). */
  lossReported = false;

  /** Throws a typed error when the device is gone. */
  check(op: string): void {
    if (this.lostReason !== null) {
      this.lossReported = true;
      argError(
        'UNSUPPORTED',
        op,
        'backend',
        `has lost its device: the WebGPU device was lost (${this.lostReason}).`,
      );
    }
    if (this.#destroyed) {
      argError('DISPOSED', op, 'backend', 'was disposed (backend.dispose()); create a new one.');
    }
  }

  /** A compiled pipeline for `key`, compiled from `source()` the first time. */
  pipeline(key: string, source: () => string): GPUComputePipeline {
    let p = this.#pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: source(), label: key });
      p = this.device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
        label: key,
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  /** A storage buffer of at least `bytes` from the pool (contents undefined). */
  lease(bytes: number, extraUsage = 0): Lease {
    const size = bucket(bytes);
    const usage = STORAGE | COPY_SRC | COPY_DST | extraUsage;
    const key = `${usage}:${size}`;
    const idle = this.#idle.get(key);
    let buffer = idle?.pop();
    if (buffer) {
      this.#idleBytes -= size;
      this.#idleOrder = this.#idleOrder.filter((e) => e.buffer !== buffer);
    } else {
      buffer = this.device.createBuffer({ size, usage });
      this.liveBuffers++;
      this.liveBytes += size;
    }
    this.inUseBuffers++;
    this.inUseBytes += size;
    return { buffer, size: bytes };
  }

  /** Returns a leased buffer to the pool. */
  release(l: Lease | null | undefined): void {
    if (!l) return;
    const size = l.buffer.size;
    this.inUseBuffers--;
    this.inUseBytes -= size;
    if (this.#destroyed) {
      this.#destroy(l.buffer);
      return;
    }
    const key = `${l.buffer.usage}:${size}`;
    let idle = this.#idle.get(key);
    if (!idle) this.#idle.set(key, (idle = []));
    idle.push(l.buffer);
    this.#idleOrder.push({ key, buffer: l.buffer });
    this.#idleBytes += size;
    while (this.#idleBytes > POOL_IDLE_BYTES && this.#idleOrder.length > 0) {
      const old = this.#idleOrder.shift()!;
      const list = this.#idle.get(old.key)!;
      list.splice(list.indexOf(old.buffer), 1);
      this.#idleBytes -= old.buffer.size;
      this.#destroy(old.buffer);
    }
  }

  /** Destroys a leased buffer instead of pooling it (resident corpora: large, long-lived). */
  discard(l: Lease | null | undefined): void {
    if (!l) return;
    this.inUseBuffers--;
    this.inUseBytes -= l.buffer.size;
    this.#destroy(l.buffer);
  }

  #destroy(b: GPUBuffer): void {
    this.liveBuffers--;
    this.liveBytes -= b.size;
    b.destroy();
  }

  /** A leased buffer holding `data` (padded to 4 bytes). */
  upload(data: Float32Array | Int32Array | Uint32Array): Lease {
    const l = this.lease(Math.max(4, data.byteLength));
    this.device.queue.writeBuffer(l.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return l;
  }

  /** Writes `data` into a leased buffer at `byteOffset` (both multiples of 4 bytes). */
  write(l: Lease, byteOffset: number, data: ArrayBufferView): void {
    this.device.queue.writeBuffer(l.buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** A uniform buffer of u32 parameters, lent from the pool like the others. */
  params(values: number[]): Lease {
    const data = new Uint32Array(Math.ceil(values.length / 4) * 4);
    data.set(values);
    const l = this.lease(data.byteLength, UNIFORM);
    this.device.queue.writeBuffer(l.buffer, 0, data);
    return l;
  }

  /** Records one dispatch of `pipeline` with storage/uniform buffers bound in order at group 0. */
  dispatch(
    encoder: GPUCommandEncoder,
    pipeline: GPUComputePipeline,
    buffers: (Lease | { buffer: GPUBuffer; offset?: number; size: number })[],
    x: number,
    y = 1,
  ): void {
    const bind = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((b, i) => ({
        binding: i,
        resource: {
          buffer: b.buffer,
          offset: 'offset' in b ? (b.offset ?? 0) : 0,
          size: Math.max(4, Math.ceil(b.size / 4) * 4),
        },
      })),
    });
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(x, y);
    pass.end();
  }

  /** Most workgroups one dispatch may have (x times y). */
  get maxGroups(): number {
    const m = this.limits.maxComputeWorkgroupsPerDimension;
    return m * m;
  }

  /** Splits `groups` workgroups into an (x, y) grid within the dispatch limit. */
  grid(groups: number): [number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= max) return [Math.max(1, groups), 1];
    const y = Math.ceil(groups / max);
    if (y > max) beyondLimits(`${groups} workgroups exceed the dispatch limit (${max} per dimension)`);
    return [Math.ceil(groups / y), y];
  }

  /**
   * Submits the encoder after copying the given ranges into one mapped staging buffer, and reads
   * them back asynchronously: the promise settles when the GPU has finished.
   */
  async submitAndRead(
    encoder: GPUCommandEncoder,
    reads: { buffer: GPUBuffer; offset?: number; bytes: number }[],
  ): Promise<ArrayBuffer[]> {
    // One staging buffer per run of reads that fits maxBufferSize: a corpus block's codes, scales
    // and float32 rows together passed it (1.1 GB against 1 GiB), and the export failed.
    const limit = Math.max(4, this.limits.maxBufferSize);
    const groups: { size: number; at: number[]; index: number[] }[] = [];
    reads.forEach((r, i) => {
      const bytes = Math.ceil(r.bytes / 4) * 4;
      let g = groups[groups.length - 1];
      if (g === undefined || g.size + bytes > limit) {
        g = { size: 0, at: [], index: [] };
        groups.push(g);
      }
      g.at.push(g.size);
      g.index.push(i);
      g.size += bytes;
    });
    const staging = groups.map((g) => {
      const b = this.device.createBuffer({ size: Math.max(4, g.size), usage: MAP_READ | COPY_DST });
      this.liveBuffers++;
      this.liveBytes += b.size;
      g.index.forEach((i, t) => {
        const r = reads[i];
        encoder.copyBufferToBuffer(r.buffer, r.offset ?? 0, b, g.at[t], Math.ceil(r.bytes / 4) * 4);
      });
      return b;
    });
    try {
      this.device.queue.submit([encoder.finish()]);
      if (staging.length === 0) {
        await this.device.queue.onSubmittedWorkDone();
      } else {
        await Promise.all(staging.map((b) => b.mapAsync(MAP_MODE_READ)));
      }
      // A destroyed or lost device also settles the wait: the work was cut short, not done.
      this.check('readback');
      const out = new Array<ArrayBuffer>(reads.length);
      groups.forEach((g, k) => {
        const mapped = staging[k].getMappedRange();
        g.index.forEach((i, t) => {
          out[i] = mapped.slice(g.at[t], g.at[t] + reads[i].bytes);
        });
        staging[k].unmap();
      });
      this.#raise();
      return out;
    } catch (e) {
      // A dispose() during the read aborts it (an AbortError): the call was cut short by the
      // disposal, not by a broken backend. A lost device rejects the read before device.lost
      // settles (Chromium): give it a moment, so the loss is what this call reports.
      if (this.lostReason === null && !this.#destroyed) await this.#settleLoss();
      if (this.lostReason !== null || this.#destroyed) this.check('readback');
      throw e;
    } finally {
      for (const b of staging) this.#destroy(b);
    }
  }

  /** Waits up to 100 ms for a pending `device.lost` to settle (it may follow a failed read). */
  async #settleLoss(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.device.lost.then(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 100);
      }),
    ]);
    if (timer !== undefined) clearTimeout(timer);
    // The lost handler sets lostReason in its own continuation: let it run.
    await Promise.resolve();
  }

  /**
   * Destroys every buffer, pooled or resident, and then the device, once the work submitted to its
   * queue is done (or after a second, for a queue that never answers): in Dawn's Node binding a
   * device destroyed with its queue's work not awaited kept its native memory for good, 2.6 MB per
   * backend made and disposed. The engine is unusable from the call on; the promise settles when
   * the device is gone.
   */
  destroy(): Promise<void> {
    if (this.#destroyed) return this.#gone;
    for (const r of [...this.resident]) r.release();
    for (const list of this.#idle.values()) for (const b of list) this.#destroy(b);
    this.#idle.clear();
    this.#idleOrder = [];
    this.#idleBytes = 0;
    this.#pipelines.clear();
    this.#destroyed = true;
    const device = this.device;
    device.removeEventListener('uncapturederror', this.#onError);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1000);
      (timer as { unref?: () => void }).unref?.();
    });
    let drained: Promise<unknown>;
    try {
      drained = device.queue.onSubmittedWorkDone().catch(() => undefined);
    } catch {
      drained = Promise.resolve();
    }
    this.#gone = Promise.race([drained, late]).then(() => {
      clearTimeout(timer);
      device.destroy();
    });
    return this.#gone;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }
}
