import { Tensor } from '@cosinekit/core';
import {
  admit,
  argError,
  argErrorOf,
  type Backend,
  type BackendMemory,
  backendError,
  type CorpusOptions,
  clampCos,
  describeType,
  disposedBackend,
  foreignCorpus,
  isCosineKitError,
  type Kernels,
  type Matrix,
  ownOptions,
  type ResidentCorpus,
  reading,
  referenceKernels,
  type TopKResult,
  toTensor,
  valueText,
} from '@cosinekit/core/backend';
import {
  DriverFault,
  isInstance,
  openPGlite,
  openPool,
  type PGliteLike,
  type PoolLike,
  pgliteClient,
  poolClient,
  reasonOf,
  type SqlClient,
  type SqlQuery,
  type SqlRow,
  sqlState,
} from './client.js';

/** The backend's name in the registry and on its resident corpora. */
export const PGVECTOR_BACKEND_NAME = 'pgvector';

/** pgvector's HNSW index, for approximate search (see {@link PgvectorBackendOptions.hnsw}). */
export interface HnswOptions {
  /** Links per node (pgvector's default 16; 2..100). */
  m?: number;
  /** Candidate list while building (default 64; 4..1000, at least `2 * m`). */
  efConstruction?: number;
  /** Candidate list while searching (default 40; 1..1000); raised to `k` when `k` is larger. */
  efSearch?: number;
}

/** Options of {@link createPgvectorBackend}. Without `connectionString` or `pglite`, PGlite runs in memory. */
export interface PgvectorBackendOptions {
  /**
   * Any Postgres with pgvector, e.g. `postgres://user:pass@host:5432/db`, reached through `pg`
   * (install it next to this package). Corpora then live on that server.
   */
  connectionString?: string;
  /** Connections in the `pg` pool (default 4); searches of different corpora run on different ones. */
  poolSize?: number;
  /** An open `pg.Pool` to use instead of `connectionString`; the backend does not end it. */
  pool?: PoolLike;
  /**
   * Where embedded PGlite keeps its data: `memory://` (the default), a directory in Node, or
   * `idb://name` (IndexedDB) in browsers.
   */
  dataDir?: string;
  /** An open PGlite instance with the `vector` extension loaded; the backend does not close it. */
  pglite?: PGliteLike;
  /**
   * Prefix of the tables this backend creates, one per resident corpus (default `cosinekit`):
   * lowercase letters, digits and underscores, starting with a letter or underscore, at most 40.
   */
  tablePrefix?: string;
  /**
   * Build pgvector's HNSW index on every corpus and search through it: approximate (recall below 1,
   * measured by `pnpm bench -b pgvector`). Omitted: exact search, the default.
   */
  hnsw?: HnswOptions | true;
  /**
   * How long, in ms, a durable-table call (`writeTable`, `readTable`, `dropTable`) may wait for the
   * database to answer one statement before it fails with `BACKEND_ERROR` (its remaining statements
   * are then not sent, and a `writeTable` drops the table it made): a large write of many chunks
   * takes as long as it needs while the database keeps answering. Also how long `dispose()` waits
   * for calls in flight, for its own drops and for closing (default 60000, as `createCosineKit({
   * timeoutMs })`; 0 or `Infinity`: no limit). Kernels called through a kit are bounded by the
   * kit's own `timeoutMs`.
   */
  timeoutMs?: number;
}

/** The pgvector backend: the corpus kernels on Postgres, the rest on the reference. */
export interface PgvectorBackend extends Backend {
  /** Opens the database and creates the `vector` extension if missing; `BACKEND_INIT_FAILED` with the driver's reason. */
  init(): Promise<void>;
  /**
   * Drops the tables of corpora still alive, then closes what this backend opened. It waits at most
   * `timeoutMs` for calls in flight (one stuck in the driver drops its own table if it ever
   * settles), then at most `timeoutMs` for the drops, then closes the database even if they did not
   * finish, and at most `timeoutMs` for that (`BACKEND_ERROR` saying what it could not do).
   */
  dispose(): Promise<void>;
  /** One table per live corpus. */
  memory(): BackendMemory;
  /** Where the corpora live, the server and pgvector versions, exact or approximate search. */
  describe(): Record<string, string | number | boolean>;
  /**
   * Copies `rows` into a durable table `name` that this backend never drops: it outlives the
   * process on a server or a persisted PGlite. Fails if the table exists.
   */
  writeTable(name: string, rows: Matrix): Promise<void>;
  /**
   * The rows of a durable table written by {@link PgvectorBackend.writeTable}, in their order and
   * normalised as stored, to hand to `kit.corpus()`. Throws `DIMENSION_MISMATCH` when its vectors are not `cols` wide.
   */
  readTable(name: string, cols: number): Promise<Tensor>;
  /**
   * Drops a durable table; resolves with whether it existed. A resident corpus's table (marked by
   * a comment) is refused, unless `options.staleCorpus` is true and no live corpus of this backend
   * holds it: a corpus table left behind by a process that ended without disposing its backend
   * (a crash, on a server or a persisted PGlite) can then be removed. Pass it only when no running
   * process still searches that table.
   */
  dropTable(name: string, options?: { staleCorpus?: boolean }): Promise<boolean>;
}

const NAME = /^[a-z_][a-z0-9_]{0,39}$/;
/** The default of {@link PgvectorBackendOptions.timeoutMs}: the kit's default for kernels. */
const DEFAULT_TIMEOUT_MS = 60_000;
/** The longest delay `setTimeout` takes (a longer one fires at once): about 24.8 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `p`, or the error `late()` makes once `ms` have passed first (no limit for 0 or Infinity). `p`
 * keeps its handlers: its later rejection is never unhandled.
 */
function within<T>(p: Promise<T>, ms: number, late: () => unknown): Promise<T> {
  if (!(ms > 0 && Number.isFinite(ms))) return p;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(late()), Math.min(ms, MAX_TIMER_MS));
    }),
  ]).finally(() => clearTimeout(timer));
}

const ignore = (): undefined => undefined;

/**
 * A watchdog for a call of many statements: `fired` rejects with `late()` once `ms` pass with no
 * statement settling (never for 0 or Infinity). `arm()` restarts the wait (at the start, and as
 * each statement settles), `stop()` ends it. A large write of many chunks is bounded per chunk,
 * not as a whole, so it takes as long as it needs while the database keeps answering.
 */
function watchdog(
  ms: number,
  late: () => unknown,
): { fired: Promise<never>; arm: () => void; stop: () => void } {
  let fire: (e: unknown) => void = ignore;
  const fired = new Promise<never>((_, reject) => {
    fire = reject;
  });
  fired.catch(ignore);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limited = ms > 0 && Number.isFinite(ms);
  const stop = () => clearTimeout(timer);
  const arm = () => {
    stop();
    if (limited) timer = setTimeout(() => fire(late()), Math.min(ms, MAX_TIMER_MS));
  };
  return { fired, arm, stop };
}
const MAX_ROWS_PER_INSERT_VALUES = 1 << 20;

/**
 * How far pgvector's cosine distance may be from the exact one. It sums the dot product and both
 * squared norms in float32 over `d` terms: each is off by at most `d * 2^-24` relative to
 * `|a| |b|`, so the cosine is off by at most about `2 (d + 2) 2^-24`. Doubled for safety.
 */
export function distanceError(d: number): number {
  // A dimension that is none gave NaN (an object) or threw raw (a symbol).
  if (!(typeof d === 'number' && Number.isInteger(d) && d >= 1))
    argError(
      'INVALID_ARGUMENT',
      'distanceError',
      'd',
      `must be a dimension (an integer >= 1), got ${valueText(d)}.`,
    );
  return 4 * (d + 2) * 2 ** -24;
}

/** A resident corpus: one table, dropped by `dispose()`. */
class PgvectorCorpus implements ResidentCorpus {
  readonly backend = PGVECTOR_BACKEND_NAME;
  readonly storage = 'float32' as const;
  #disposed = false;
  constructor(
    readonly owner: State,
    readonly table: string,
    readonly rows: number,
    readonly cols: number,
  ) {}

  get disposed(): boolean {
    return this.#disposed;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.owner.release(this);
  }
}

/**
 * The data directories (files or IndexedDB names) this process's pgvector backends hold open in
 * PGlite of their own: one backend each. In-memory databases are never shared, so never listed.
 */
const OPEN_DIRS = new Set<string>();

/**
 * `dataDir` as a key of {@link OPEN_DIRS}, or null for memory: a path (or `file://` URL) made
 * absolute against the working directory with `.`, `..` and repeated slashes resolved, so two
 * spellings of one directory are one key (symbolic links are not followed); another scheme
 * (`idb://name`) as given, less trailing slashes.
 */
function dirKey(dataDir: string | undefined): string | null {
  if (dataDir === undefined || dataDir.startsWith('memory://')) return null;
  let d = dataDir.startsWith('file://') ? decodeURIComponent(dataDir.slice('file://'.length)) : dataDir;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(d)) return d.replace(/\/+$/, '');
  if (!d.startsWith('/')) {
    const cwd = (globalThis as { process?: { cwd?(): string } }).process?.cwd?.();
    d = `${cwd ?? ''}/${d}`;
  }
  const parts: string[] = [];
  for (const p of d.split('/')) {
    if (p === '..') parts.pop();
    else if (p !== '' && p !== '.') parts.push(p);
  }
  return `/${parts.join('/')}`;
}

/** Everything one backend instance holds. */
class State {
  client: SqlClient | null = null;
  opening: Promise<SqlClient> | null = null;
  readonly live = new Set<PgvectorCorpus>();
  readonly drops = new Set<Promise<unknown>>();
  /** `createCorpus` calls in flight: `close()` waits for them (each drops its table once it sees the dispose). */
  readonly creating = new Set<Promise<unknown>>();
  /** `writeTable`, `readTable` and `dropTable` calls in flight: `close()` waits for them too. */
  readonly tableCalls = new Set<Promise<unknown>>();
  readonly session = Math.random().toString(36).slice(2, 8);
  extension = '';
  /** pgvector 0.8 or later: HNSW iterative scans (`hnsw.iterative_scan`). */
  iterative = false;
  serverVersion = '';
  seq = 0;
  constructor(
    readonly options: PgvectorBackendOptions,
    readonly prefix: string,
    readonly hnsw: Required<HnswOptions> | null,
    readonly timeoutMs: number,
  ) {}

  /** The data directory this backend's own PGlite holds open (see {@link OPEN_DIRS}). */
  dir: string | null = null;
  /** True while open() runs (its database may be opening even after close() gave up on it). */
  openInFlight = false;
  /** Whether `close()` ran: the backend's dispose is final. */
  disposed = false;
  /** The first error a corpus table's drop met: the backend's dispose() reports it. */
  dropFailed: unknown;

  /** The client, opened on first use; `DISPOSED` naming `op` once the backend is disposed. */
  async open(op: string): Promise<SqlClient> {
    if (this.disposed) disposedBackend(op);
    if (this.client) return this.client;
    this.opening ??= (async () => {
      let client: SqlClient | null = null;
      this.openInFlight = true;
      try {
        const o = this.options;
        if (o.pglite) client = pgliteClient(o.pglite, false);
        else if (o.pool) client = poolClient(o.pool, false);
        else if (o.connectionString !== undefined)
          client = poolClient(await openPool(o.connectionString, o.poolSize ?? 4), true);
        else {
          // Two PGlite instances on one directory each keep a copy of it, and the last to close
          // writes over the other's: a table one wrote was gone on reopening (a probe's finding).
          const dir = dirKey(o.dataDir);
          if (dir !== null) {
            if (OPEN_DIRS.has(dir))
              throw argErrorOf(
                'BACKEND_INIT_FAILED',
                'init',
                'options.dataDir',
                `is '${o.dataDir}', which another pgvector backend of this process holds open: two PGlite databases on one directory overwrite each other's writes. Share that backend, or dispose it first.`,
                undefined,
                { backend: PGVECTOR_BACKEND_NAME },
              );
            OPEN_DIRS.add(dir);
            this.dir = dir;
          }
          client = pgliteClient(await openPGlite(o.dataDir), true);
        }
        // Each bounded by timeoutMs: a client that never answers left init() waiting for ever.
        const opened = client;
        const ask = (text: string) =>
          within(
            opened.query(text),
            this.timeoutMs,
            () =>
              new Error(
                `no answer to '${text}' within ${this.timeoutMs} ms (createPgvectorBackend({ timeoutMs }) sets the limit)`,
              ),
          );
        await ask('CREATE EXTENSION IF NOT EXISTS vector');
        const [ext] = await ask("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
        const [ver] = await ask('SHOW server_version');
        this.extension = String(ext?.extversion ?? 'unknown');
        const [major, minor] = this.extension.split('.').map(Number);
        this.iterative = major > 0 || minor >= 8;
        this.serverVersion = String(ver?.server_version ?? 'unknown');
        // Disposed while it opened: close what was opened (close() waits for this), hand out nothing.
        if (this.disposed) disposedBackend(op);
        this.client = client;
        return client;
      } catch (e) {
        this.opening = null;
        await within(Promise.resolve(client?.close()), this.timeoutMs, ignore).catch(ignore);
        this.releaseDir();
        if (isCosineKitError(e, 'DISPOSED') || isCosineKitError(e, 'BACKEND_INIT_FAILED')) throw e;
        const o = this.options;
        const where =
          o.connectionString !== undefined || o.pool !== undefined ? 'the Postgres server' : 'PGlite';
        throw argErrorOf(
          'BACKEND_INIT_FAILED',
          'init',
          'options',
          `names ${where}, which the pgvector backend could not open with pgvector: ${reasonOf(e)}`,
          e,
          { backend: PGVECTOR_BACKEND_NAME },
        );
      } finally {
        this.openInFlight = false;
      }
    })();
    return this.opening;
  }

  /** Frees the data directory this backend held open, if any. */
  releaseDir(): void {
    if (this.dir !== null) OPEN_DIRS.delete(this.dir);
    this.dir = null;
  }

  newTable(): string {
    return `${this.prefix}_${this.session}_${++this.seq}`;
  }

  release(c: PgvectorCorpus): void {
    this.live.delete(c);
    const client = this.client;
    if (!client) return;
    // dispose() is synchronous; the drop runs behind it and the backend's dispose() waits for it.
    const p = client
      .query(`DROP TABLE IF EXISTS ${quote(c.table)}`)
      .catch((e: unknown) => {
        this.dropFailed ??= e;
      })
      .finally(() => this.drops.delete(p));
    this.drops.add(p);
  }

  async close(): Promise<void> {
    this.disposed = true;
    // The corpora go within the call (their tables dropped behind it): a call made right after
    // dispose() on one of them is DISPOSED, where a remove once ran while the close waited.
    for (const c of [...this.live]) c.dispose();
    // An open or a createCorpus in flight finishes first: each sees the dispose and cleans up. One
    // stuck in the driver is waited for at most timeoutMs (it hung dispose() for ever): when it
    // settles, it still sees the dispose, drops what it made and hands out nothing.
    const inFlight = Promise.all(
      [this.opening, ...this.creating, ...this.tableCalls].map((p) => p?.catch(ignore)),
    );
    await within(inFlight, this.timeoutMs, ignore).catch(ignore);
    for (const c of [...this.live]) c.dispose();
    const client = this.client;
    this.client = null;
    this.opening = null;
    const ms = this.timeoutMs;
    const fail = (why: string, cause?: unknown) =>
      backendError('dispose', 'backend', PGVECTOR_BACKEND_NAME, 'dispose', why, cause);
    // Drops (which never reject) that never settle must not keep an owned database open: past the
    // limit it is closed anyway, and dispose() then says what it could not do.
    const dropped = await within(Promise.all([...this.drops]), ms, () => 'late').then(
      () => true,
      () => false,
    );
    try {
      await within(Promise.resolve(client?.close()), ms, () => 'late');
      // An open still in flight (given up on after timeoutMs) keeps the directory taken: it
      // frees it itself once it has settled and closed what it opened (see open()).
      if (!this.openInFlight) this.releaseDir();
    } catch (e) {
      throw e === 'late'
        ? fail(`did not close the database within ${ms} ms (createPgvectorBackend({ timeoutMs })).`)
        : fail(`could not close the database: ${reasonOf(e)}`, isInstance(e, DriverFault) ? e.cause : e);
    }
    if (!dropped)
      throw fail(
        `did not drop its corpus tables within ${ms} ms (createPgvectorBackend({ timeoutMs })); the database was closed.`,
      );
    // A drop the database refused left its table (it resolved quietly before).
    if (this.dropFailed !== undefined)
      throw fail(
        `could not drop a corpus table: ${reasonOf(this.dropFailed)}`,
        isInstance(this.dropFailed, DriverFault) ? this.dropFailed.cause : this.dropFailed,
      );
  }
}

/** A validated identifier, double-quoted (validation already rules out quotes). */
function quote(name: string): string {
  return `"${name}"`;
}

/**
 * A table name or prefix: a string (`INVALID_TYPE` otherwise, the value described by its type:
 * its own `toString` is never called, which lied, threw, or printed a function's source), then
 * checked against {@link NAME}.
 */
function checkName(op: string, arg: string, name: unknown, max = 63): string {
  if (typeof name !== 'string')
    argError('INVALID_TYPE', op, arg, `must be a string (a table name), got ${describeType(name)}.`);
  if (!NAME.test(name) || name.length > max) {
    argError(
      'INVALID_ARGUMENT',
      op,
      arg,
      `must be lowercase letters, digits and underscores, starting with a letter or underscore, at most ${Math.min(max, 40)} characters; got ${valueText(name)}.`,
    );
  }
  return name;
}

/** pgvector's largest `vector(n)`. */
const MAX_DIMS = 16000;
/** The most dimensions pgvector's HNSW index takes for `vector` columns. */
const HNSW_MAX_DIMS = 2000;
/** pgvector's largest `hnsw.ef_search`: a search for more rows goes exact. */
const HNSW_MAX_EF = 1000;

/**
 * The caller's rows for `op`, checked as the kit checks a matrix and snapshotted (core's `admit`):
 * a `Tensor`, or `{ data, rows, cols }` whose fields are each read once. `data` must be a
 * Float32Array (`INVALID_TYPE`; a Proxy around one, or one whose `length` is overridden, too), not
 * detached or shrunk (`DISPOSED`), holding `rows x cols` values (`SHAPE_MISMATCH`); `rows` and
 * `cols` integers (`INVALID_ARGUMENT`), at least one row (`EMPTY_INPUT`), `cols` within what
 * pgvector stores (`UNSUPPORTED` past 16000), finite values (`NON_FINITE`: a NaN row was once stored
 * as zeros). What can not be read (a getter or a Proxy trap that throws) is `INVALID_ARGUMENT`.
 * `factor` undoes the gate's rescaling of rows of extreme magnitude (for the stored norm).
 */
function tableRows(op: string, arg: string, m: unknown): { x: Matrix; factor: Float64Array | null } {
  let t: Tensor;
  if (reading(op, arg, () => m instanceof Tensor)) t = toTensor(m as Tensor, op, arg);
  else {
    if (typeof m !== 'object' || m === null)
      argError(
        'INVALID_TYPE',
        op,
        arg,
        `must be a Tensor or a float32 matrix { data, rows, cols }, got ${describeType(m)}.`,
      );
    const { data, rows, cols } = reading(op, arg, () => {
      const { data, rows, cols } = m as Record<string, unknown>;
      return { data, rows, cols };
    });
    if (!reading(op, `${arg}.data`, () => data instanceof Float32Array))
      argError('INVALID_TYPE', op, `${arg}.data`, `must be a Float32Array, got ${describeType(data)}.`);
    checkInt(op, `${arg}.rows`, rows, 0, 2 ** 31 - 1);
    checkInt(op, `${arg}.cols`, cols, 1, Number.MAX_SAFE_INTEGER);
    if ((cols as number) > MAX_DIMS)
      argError(
        'UNSUPPORTED',
        op,
        `${arg}.cols`,
        `is ${cols}; pgvector stores at most ${MAX_DIMS} dimensions.`,
      );
    if (rows === 0) argError('EMPTY_INPUT', op, arg, 'has no rows.');
    t = toTensor(data as Float32Array, op, `${arg}.data`, [rows as number, cols as number]);
  }
  if (t.cols > MAX_DIMS)
    argError(
      'UNSUPPORTED',
      op,
      `${arg}.cols`,
      `is ${t.cols}; pgvector stores at most ${MAX_DIMS} dimensions.`,
    );
  const { tensor, factor } = admit(t, op, arg);
  return { x: tensor, factor };
}

function checkInt(op: string, arg: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
    argError('INVALID_ARGUMENT', op, arg, `must be an integer in [${lo}, ${hi}]; got ${shown(v)}.`);
  return v as number;
}

/** `v` for a message: a string quoted (`'4'` is not 4), a bigint marked, else its string form. */
function shown(v: unknown): string {
  if (typeof v === 'string') return `the string '${v}'`;
  if (typeof v === 'bigint') return `the bigint ${v}n`;
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

/** pgvector's text form of `cols` float32 values: shortest decimals, which read back exactly. */
function vectorText(data: Float32Array, at: number, cols: number): string {
  let s = '[';
  for (let j = 0; j < cols; j++) s += (j ? ',' : '') + String(data[at + j]);
  return `${s}]`;
}

/**
 * A row a real table may hold that this backend cannot read (a NULL vector, where the column was
 * not made NOT NULL): the caller's table, `INVALID_ARGUMENT` naming it in `readTable`.
 */
class UnreadableRow extends Error {}

/**
 * pgvector's text of a vector of `cols` values, into `out`. Anything else where the database must
 * have sent one (no text, another width, a value that is not a finite number) is a
 * {@link DriverFault}; a NULL is an {@link UnreadableRow}.
 */
function parseVector(text: unknown, cols: number, out: Float64Array): Float64Array {
  if (text === null) throw new UnreadableRow('it holds a row whose vector is NULL');
  if (typeof text !== 'string')
    throw new DriverFault(`the database sent ${describeType(text)} for a vector, not its text`, {
      cause: text,
    });
  const s = text;
  let j = 0;
  let start = 1;
  for (let i = 1; i < s.length && j <= cols; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 44 /* , */ || ch === 93 /* ] */) {
      const v = Number(s.slice(start, i));
      if (!Number.isFinite(v) || start === i)
        throw new DriverFault(`the database sent a vector holding ${valueText(s.slice(start, i))}`);
      if (j < cols) out[j] = v;
      j++;
      start = i + 1;
    }
  }
  if (j !== cols || s.charCodeAt(0) !== 91 /* [ */)
    throw new DriverFault(`the database sent a vector of ${j} values, expected ${cols}`);
  return out;
}

function norm64(data: Float32Array, at: number, cols: number): number {
  let s = 0;
  for (let j = 0; j < cols; j++) s += data[at + j] * data[at + j];
  return Math.sqrt(s);
}

/**
 * How far from 1 a row's float64 norm may be for the row to be stored as it is: a unit row rounded
 * to float32 (each value within 2^-24 of its own) is within about 2^-24 of 1.
 */
const UNIT_SLACK = 2 ** -22;

/**
 * Row `i` divided by its norm (`n`, float64), rounded once to float32; a zero row stays zero, and a
 * row already unit within float32 rounding is kept as it is. Divided again, such a row (what
 * `readCorpus` hands a saved file) moved by an ulp here and there, and a reloaded corpus scored
 * 1 ulp away from the one saved; {@link rescore} divides by the stored row's own norm.
 */
function unitRow(x: Matrix, i: number, n: number, out: Float32Array): Float32Array {
  const at = i * x.cols;
  const keep = Math.abs(n - 1) <= UNIT_SLACK;
  for (let j = 0; j < x.cols; j++) out[j] = keep ? x.data[at + j] : n > 0 ? x.data[at + j] / n : 0;
  return out;
}

/**
 * Postgres's binary COPY stream of rows `from..to-1`: (ord int4, n float8, v vector), big-endian.
 * `factor` (the gate's rescaling, or null) is divided out of the stored norm.
 */
function copyStream(
  x: Matrix,
  from: number,
  to: number,
  factor: Float64Array | null,
): Uint8Array<ArrayBuffer> {
  const d = x.cols;
  const row = 2 + 8 + 12 + 8 + 4 * d;
  const bytes = new Uint8Array(19 + (to - from) * row + 2);
  const v = new DataView(bytes.buffer);
  bytes.set([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]); // PGCOPY\n\377\r\n\0
  const unit = new Float32Array(d);
  let p = 19; // then a zero flags word and a zero header-extension length
  for (let i = from; i < to; i++) {
    const n = norm64(x.data, i * d, d);
    unitRow(x, i, n, unit);
    v.setInt16(p, 3);
    v.setInt32(p + 2, 4);
    v.setInt32(p + 6, i);
    v.setInt32(p + 10, 8);
    v.setFloat64(p + 14, factor ? n / factor[i] : n);
    v.setInt32(p + 22, 4 + 4 * d);
    v.setInt16(p + 26, d); // pgvector's binary form: dimension, a reserved zero, the float32 values
    p += 30;
    for (let j = 0; j < d; j++, p += 4) v.setFloat32(p, unit[j]);
  }
  v.setInt16(p, -1);
  return bytes;
}

/**
 * Inserts rows `0..x.rows-1` with ordinals, norms and vectors: binary COPY where the client has it.
 * Then counts them: a driver that answered every statement without running it (nothing written)
 * is a {@link DriverFault}, not a table reported written.
 */
async function insertRows(
  client: Pick<SqlClient, 'copyBinary' | 'query'>,
  table: string,
  x: Matrix,
  factor: Float64Array | null = null,
): Promise<void> {
  await sendRows(client, client.query, table, x, factor);
  const [r] = await client.query(`SELECT count(*)::int4 AS count FROM ${quote(table)}`);
  const count = r?.count;
  if (count !== x.rows)
    throw new DriverFault(
      `the database holds ${valueText(count)} rows in table '${table}' after ${x.rows} were written`,
      { cause: r },
    );
}

async function sendRows(
  client: Pick<SqlClient, 'copyBinary'>,
  query: SqlQuery,
  table: string,
  x: Matrix,
  factor: Float64Array | null,
): Promise<void> {
  if (client.copyBinary) {
    const per = Math.max(1, Math.floor((64 << 20) / (30 + 4 * x.cols)));
    for (let from = 0; from < x.rows; from += per) {
      await client.copyBinary(
        quote(table),
        'ord, n, v',
        copyStream(x, from, Math.min(x.rows, from + per), factor),
      );
    }
    return;
  }
  const per = Math.max(1, Math.floor(MAX_ROWS_PER_INSERT_VALUES / x.cols));
  for (let from = 0; from < x.rows; from += per) {
    const to = Math.min(x.rows, from + per);
    const ords: number[] = [];
    const norms: string[] = [];
    const vecs: string[] = [];
    const unit = new Float32Array(x.cols);
    for (let i = from; i < to; i++) {
      const n = norm64(x.data, i * x.cols, x.cols);
      ords.push(i);
      norms.push(String(factor ? n / factor[i] : n));
      vecs.push(`"${vectorText(unitRow(x, i, n, unit), 0, x.cols)}"`);
    }
    await query(
      `INSERT INTO ${quote(table)} (ord, n, v) SELECT * FROM unnest($1::int4[], $2::float8[], $3::vector[])`,
      [`{${ords.join(',')}}`, `{${norms.join(',')}}`, `{${vecs.join(',')}}`],
    );
  }
}

/**
 * The comment on a resident corpus's table: `dropTable` refuses such a table whichever backend,
 * process or session holds it (a second backend on the same database once dropped a live corpus's
 * table under it).
 */
const CORPUS_TABLE_NOTE = 'cosinekit resident corpus';

async function createTable(query: SqlQuery, table: string, cols: number, corpus = false): Promise<void> {
  // The dimension is a type modifier, which SQL does not take as a parameter: it is a checked integer.
  // A corpus's table is UNLOGGED: it belongs to this process and goes with its corpus, so writing
  // it to the write-ahead log kept nothing safe and cost memory (embedded PGlite's log grew about
  // 1 MiB for each corpus of 3000 x 64 made and disposed, and did not shrink). Durable tables
  // (writeTable) are logged.
  await query(
    `CREATE ${corpus ? 'UNLOGGED ' : ''}TABLE ${quote(table)} (ord int4 NOT NULL, n float8 NOT NULL, v vector(${cols}) NOT NULL)`,
  );
  // A failure here leaves a table made but not marked: makeCorpus drops it.
  if (corpus) await query(`COMMENT ON TABLE ${quote(table)} IS '${CORPUS_TABLE_NOTE}'`);
}

/**
 * All rows of a table in ordinal order, as stored: normalised, zero rows zero. `rows` is how many a
 * corpus table holds (another count is a {@link DriverFault}); null reads however many there are.
 */
async function readRows(
  query: SqlQuery,
  table: string,
  rows: number | null,
  cols: number,
): Promise<Float32Array> {
  const got = await query(`SELECT v::text AS v FROM ${quote(table)} ORDER BY ord`);
  if (rows !== null && got.length !== rows)
    throw new DriverFault(`table ${table} holds ${got.length} rows, expected ${rows}`);
  const n = got.length;
  const out = new Float32Array(n * cols);
  const row = new Float64Array(cols);
  for (let i = 0; i < n; i++) out.set(parseVector(got[i].v, cols, row), i * cols);
  return out;
}

interface Candidate {
  ord: number;
  score: number;
}

/**
 * Cosines of candidate rows against the unit query `q` (float64), best first, ties to the lower
 * ordinal: each stored row scaled to unit length in float64 (times 1 / its norm), one float64 dot
 * product in order of the dimensions, rounded once to float32 and clamped: the very operations of
 * the reference's `cosineMatrix`, which `corpusMatrix` runs, so a search's scores are its
 * similarity's bit for bit (they differed by an ulp in a third of the pairs).
 */
function rescore(rows: SqlRow[], q: Float64Array): Candidate[] {
  const cols = q.length;
  const v = new Float64Array(cols);
  const out: Candidate[] = [];
  for (const r of rows) {
    let score = 0;
    if (Number(r.n) > 0) {
      parseVector(r.v, cols, v);
      // pgvector prints each float32 in its shortest decimal, which parses to a nearby double,
      // not to the float32 itself: rounded back, these are the stored values.
      let vv = 0;
      for (let j = 0; j < cols; j++) {
        v[j] = Math.fround(v[j]);
        vv += v[j] * v[j];
      }
      if (vv > 0) {
        const inv = 1 / Math.sqrt(vv);
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += q[j] * (v[j] * inv);
        score = clampCos(Math.fround(dot));
      }
    }
    out.push({ ord: Number(r.ord), score });
  }
  return out.sort((a, b) => b.score - a.score || a.ord - b.ord);
}

/** The query divided by its norm: float64 for rescoring, and pgvector's text of it in float32. */
interface UnitQuery {
  exact: Float64Array;
  text: string;
}

function unitQuery(data: Float32Array, at: number, cols: number, n: number): UnitQuery {
  // Times 1 / the norm, as the reference stages a row for its products (see `rescore`).
  const inv = 1 / n;
  const exact = new Float64Array(cols);
  for (let j = 0; j < cols; j++) exact[j] = data[at + j] * inv;
  return { exact, text: vectorText(Float32Array.from(exact), 0, cols) };
}

const DISTANCE = 'CASE WHEN n = 0 THEN 1::float8 ELSE v <=> $1::vector END';

/**
 * The rows a filtered search may return, as a WHERE clause on the ordinal column whose one value is
 * a query parameter; the clause text is one of three fixed forms, never built from the values.
 */
interface RowFilter {
  /** The clause with its value as parameter `$p`. */
  readonly where: (p: number) => string;
  readonly param: unknown;
  /** How many rows pass. */
  readonly passing: number;
}

/**
 * Below this share of the rows, a list of ordinals (about 7 bytes each as an array parameter) is
 * smaller than a bitmap of every row (1 bit each), and Postgres tests it with a hash.
 */
const LIST_SHARE = 1 / 64;

/**
 * The filter for the rows whose `allow` byte is 1, or null when every row passes. A few passing
 * rows go as `ord = ANY($3)`, a few failing ones as `ord <> ALL($3)`, anything between as a bitmap
 * (`bytea`, one bit per row) that `get_bit` reads in constant time per row. Measured on PGlite at
 * 100k x 64: the bitmap is 2-4x faster than either list from 50% passing (parsing a long array
 * parameter dominates), and a temporary table of the ordinals was slowest of all (its insert costs
 * more than the scan); a short list wins below about 1-2% through the index on `ord`.
 */
export function rowFilter(allow: Uint8Array, rows: number): RowFilter | null {
  let passing = 0;
  for (let j = 0; j < rows; j++) passing += allow[j] === 1 ? 1 : 0;
  const failing = rows - passing;
  if (failing === 0) return null;
  const list = (want: number, count: number): string => {
    const ords = new Array<number>(count);
    for (let j = 0, t = 0; j < rows; j++) if ((allow[j] === 1 ? 1 : 0) === want) ords[t++] = j;
    return `{${ords.join(',')}}`;
  };
  if (passing <= rows * LIST_SHARE)
    return { where: (p) => `ord = ANY($${p}::int4[])`, param: list(1, passing), passing };
  if (failing <= rows * LIST_SHARE)
    return { where: (p) => `ord <> ALL($${p}::int4[])`, param: list(0, failing), passing };
  // get_bit numbers the bits of each byte from the least significant.
  const bits = new Uint8Array((rows + 7) >> 3);
  for (let j = 0; j < rows; j++) if (allow[j] === 1) bits[j >> 3] |= 1 << (j & 7);
  return { where: (p) => `get_bit($${p}::bytea, ord) = 1`, param: bits, passing };
}

async function exactSearch(
  query: SqlQuery,
  c: PgvectorCorpus,
  q: UnitQuery,
  k: number,
  filter: RowFilter | null = null,
): Promise<Candidate[]> {
  const t = quote(c.table);
  const where = filter ? `WHERE ${filter.where(3)}` : '';
  const extra = filter ? [filter.param] : [];
  const among = filter ? filter.passing : c.rows;
  // A few more than k, so that near-ties at the k-th place are usually already in hand.
  const pool = Math.min(among, k + Math.max(8, k >> 1));
  const qv = q.text;
  let rows = await query(
    `SELECT ord, n, d, v::text AS v FROM (SELECT ord, n, v, ${DISTANCE} AS d FROM ${t} ${where} ORDER BY d, ord LIMIT $2) s`,
    [qv, pool, ...extra],
  );
  // Fewer rows than k from a table that holds them: the driver's fault, said as such (a raw
  // TypeError on the missing row before).
  if (rows.length < Math.min(k, among))
    throw new DriverFault(
      `the database answered a search for ${pool} rows with ${rows.length}, fewer than k = ${k}`,
    );
  // Every row within 2 error bounds of the k-th distance may truly belong in the top k: rescore
  // them all exactly. The small extra covers the float32 rounding of the returned scores.
  const limit = Number(rows[k - 1].d) + 2 * distanceError(c.cols) + 2 ** -20;
  if (rows.length === pool && pool < among && Number(rows[pool - 1].d) <= limit) {
    rows = await query(
      `SELECT ord, n, v::text AS v FROM (SELECT ord, n, v, ${DISTANCE} AS d FROM ${t} ${where}) s WHERE d <= $2`,
      [qv, limit, ...extra],
    );
  } else {
    rows = rows.filter((r) => Number(r.d) <= limit);
  }
  return rescore(rows, q.exact).slice(0, k);
}

/**
 * With a filter, the index alone would return the k nearest rows and the WHERE would then drop most
 * of them; pgvector 0.8's iterative scan keeps walking the graph until k rows pass (or it has
 * visited `hnsw.max_scan_tuples`). Order is restored by the rescoring, so the relaxed order is enough.
 * When few rows pass, an exact scan of just those rows is cheaper than the graph and exact.
 */
const HNSW_EXACT_BELOW = 0.05;

async function approximateSearch(
  client: SqlClient,
  c: PgvectorCorpus,
  hnsw: Required<HnswOptions>,
  q: UnitQuery,
  k: number,
  filter: RowFilter | null,
  iterative: boolean,
): Promise<Candidate[]> {
  if (filter && filter.passing < Math.max(k, c.rows * HNSW_EXACT_BELOW))
    return exactSearch(client.query, c, q, k, filter);
  // The index searches at most ef_search candidates, and pgvector takes at most 1000.
  if (k > HNSW_MAX_EF) return exactSearch(client.query, c, q, k, filter);
  const qv = q.text;
  const rows = await client.transaction(async (query) => {
    await query("SELECT set_config('hnsw.ef_search', $1, true)", [String(Math.max(hnsw.efSearch, k))]);
    // Small tables would otherwise be scanned, and the figures would not be the index's.
    await query("SELECT set_config('enable_seqscan', 'off', true)");
    // Before pgvector 0.8 the setting does not exist; a short result then falls back to exact below.
    if (filter && iterative) await query("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)");
    return query(
      `SELECT ord, n, v::text AS v FROM ${quote(c.table)} ${filter ? `WHERE ${filter.where(3)}` : ''} ORDER BY v <=> $1::vector LIMIT $2`,
      filter ? [qv, k, filter.param] : [qv, k],
    );
  });
  // Zero rows are not in a cosine index, and a small ef_search may return fewer than k.
  if (rows.length < k) return exactSearch(client.query, c, q, k, filter);
  const best = rescore(rows, q.exact).slice(0, k);
  // Zero rows score 0 with every query: where the k-th found scores 0 or below, they are as good or
  // better (a tie goes to the lower ordinal), and the index never returns them. The lowest
  // ordinals among them join, as exact search ranks them.
  if (best[k - 1].score <= 0) {
    const zeros = await client.query(
      `SELECT ord FROM ${quote(c.table)} WHERE n = 0 ${filter ? `AND ${filter.where(2)}` : ''} ORDER BY ord LIMIT $1`,
      filter ? [k, filter.param] : [k],
    );
    if (zeros.length > 0) {
      const merged = [...best, ...zeros.map((z) => ({ ord: Number(z.ord), score: 0 }))];
      merged.sort((a, b) => b.score - a.score || a.ord - b.ord);
      return merged.slice(0, k);
    }
  }
  return best;
}

function resolveHnsw(op: string, h: PgvectorBackendOptions['hnsw']): Required<HnswOptions> | null {
  if (h === undefined) return null;
  const o = h === true ? {} : h;
  if (typeof o !== 'object' || o === null)
    argError(
      'INVALID_TYPE',
      op,
      'options.hnsw',
      'must be true or an object { m, efConstruction, efSearch }.',
    );
  if (Array.isArray(o))
    argError(
      'INVALID_TYPE',
      op,
      'options.hnsw',
      'must be true or an object { m, efConstruction, efSearch }.',
    );
  for (const key of Object.keys(o))
    if (key !== 'm' && key !== 'efConstruction' && key !== 'efSearch')
      argError(
        'INVALID_ARGUMENT',
        op,
        `options.hnsw.${key}`,
        'is not an HNSW option; it takes m, efConstruction, efSearch.',
      );
  const m = checkInt(op, 'options.hnsw.m', o.m ?? 16, 2, 100);
  const efConstruction = checkInt(op, 'options.hnsw.efConstruction', o.efConstruction ?? 64, 4, 1000);
  if (efConstruction < 2 * m)
    argError('INVALID_ARGUMENT', op, 'options.hnsw.efConstruction', `must be at least 2 * m (${2 * m}).`);
  const efSearch = checkInt(op, 'options.hnsw.efSearch', o.efSearch ?? 40, 1, 1000);
  return { m, efConstruction, efSearch };
}

/**
 * A CosineKit backend that keeps each resident corpus in a Postgres table with a pgvector column:
 * embedded PGlite (in memory, a directory or IndexedDB) by default, or any server with pgvector
 * through `pg`. It implements `createCorpus`, `corpusSearch`, `corpusMatrix` and `readCorpus`; every
 * other kernel runs on the reference.
 *
 * Search is exact by default: pgvector's cosine operator picks the candidates, and the k best are
 * rescored in float64 from the stored float32 rows, with every row whose pgvector distance is within
 * two error bounds of the k-th taken in (see {@link distanceError}). With `hnsw`, search goes through
 * pgvector's HNSW index and is approximate; scores of the rows it returns are still exact.
 */
export function createPgvectorBackend(options: PgvectorBackendOptions = {}): PgvectorBackend {
  const op = 'createPgvectorBackend';
  if (typeof options !== 'object' || options === null)
    argError('INVALID_TYPE', op, 'options', 'must be an object.');
  // Read once, here: a getter runs once, later changes to the object change nothing.
  options = ownOptions(op, options, [
    'connectionString',
    'poolSize',
    'pool',
    'dataDir',
    'pglite',
    'tablePrefix',
    'hnsw',
    'timeoutMs',
  ]);
  if (options.connectionString !== undefined && typeof options.connectionString !== 'string')
    argError('INVALID_TYPE', op, 'options.connectionString', 'must be a string.');
  if (options.poolSize !== undefined) checkInt(op, 'options.poolSize', options.poolSize, 1, 1000);
  const timeoutMs = options.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : options.timeoutMs;
  if (!(typeof timeoutMs === 'number' && timeoutMs >= 0))
    argError(
      'INVALID_ARGUMENT',
      op,
      'options.timeoutMs',
      `must be a number of ms >= 0 (0 or Infinity: no limit), got ${valueText(timeoutMs)}.`,
    );
  if (options.dataDir !== undefined && typeof options.dataDir !== 'string')
    argError(
      'INVALID_TYPE',
      op,
      'options.dataDir',
      'must be a string (a directory, or memory:// or idb://name).',
    );
  // '' opened a database in memory, so `dataDir: process.env.DIR` with DIR set but empty lost its
  // data without a word (a probe); memory is asked for by name or by leaving dataDir out.
  if (options.dataDir === '')
    argError(
      'INVALID_ARGUMENT',
      op,
      'options.dataDir',
      "is '': name a directory, memory:// or idb://name, or leave it out for a database in memory.",
    );
  // null, false or a number opened a throwaway in-memory database (or failed at first use).
  for (const key of ['pglite', 'pool'] as const) {
    const v = options[key];
    if (
      v !== undefined &&
      (typeof v !== 'object' || v === null || typeof (v as { query?: unknown }).query !== 'function')
    )
      argError(
        'INVALID_TYPE',
        op,
        `options.${key}`,
        `must be ${key === 'pglite' ? 'a PGlite instance' : 'a pg Pool'} (an object with query()), got ${describeType(v)}.`,
      );
  }
  const sources = (['pglite', 'pool', 'connectionString', 'dataDir'] as const).filter(
    (k) => options[k] !== undefined,
  );
  if (sources.length > 1)
    argError(
      'INVALID_ARGUMENT',
      op,
      `options.${sources[1]}`,
      `names a database as options.${sources[0]} does: give one of pglite, pool, connectionString and dataDir.`,
    );
  const prefix = checkName(
    op,
    'options.tablePrefix',
    options.tablePrefix === undefined ? 'cosinekit' : options.tablePrefix,
    40,
  );
  const hnswOption = options.hnsw;
  const hnsw = reading(op, 'options.hnsw', () => resolveHnsw(op, hnswOption));
  const state = new State(options, prefix, hnsw, timeoutMs);

  const own = (kernel: string, corpus: ResidentCorpus): PgvectorCorpus => {
    if (!(corpus instanceof PgvectorCorpus) || corpus.owner !== state)
      foreignCorpus(kernel, corpus.backend, PGVECTOR_BACKEND_NAME);
    const c = corpus as PgvectorCorpus;
    if (c.disposed) argError('DISPOSED', kernel, 'corpus', 'was disposed and can no longer be searched.');
    return c;
  };

  /**
   * Runs a kernel's SQL on corpus `c`. A failure once the backend or the corpus was disposed under
   * it (its table dropped mid-call) is `DISPOSED`, not the database's "relation does not exist"
   * reported as a broken backend.
   */
  const settled = async <T>(kernel: string, c: PgvectorCorpus, body: () => Promise<T>): Promise<T> => {
    try {
      return await body();
    } catch (e) {
      if (state.disposed) disposedBackend(kernel);
      if (c.disposed) argError('DISPOSED', kernel, 'corpus', 'was disposed during the call.', e);
      throw e;
    }
  };

  /** The k best rows for each query, among those `allow` passes (all rows when null). */
  const search = (
    kernel: string,
    corpus: ResidentCorpus,
    queries: Matrix,
    k: number,
    allow: Uint8Array | null,
  ): Promise<TopKResult> => {
    const c = own(kernel, corpus);
    return settled(kernel, c, () => searchRows(kernel, c, queries, k, allow));
  };

  const searchRows = async (
    kernel: string,
    c: PgvectorCorpus,
    queries: Matrix,
    k: number,
    allow: Uint8Array | null,
  ): Promise<TopKResult> => {
    const client = await state.open(kernel);
    const filter = allow ? rowFilter(allow, c.rows) : null;
    const indices = new Int32Array(queries.rows * k);
    const scores = new Float32Array(queries.rows * k);
    let turned = performance.now();
    for (let i = 0; i < queries.rows; i++) {
      // Embedded PGlite answers without letting the event loop turn: 50 queries over 20,000 rows
      // held it for a second, so no abort, timeout or timer ran until the search had resolved.
      if (performance.now() - turned >= TURN_MS) {
        await turn();
        turned = performance.now();
      }
      const at = i * queries.cols;
      const nq = norm64(queries.data, at, queries.cols);
      let best: Candidate[];
      if (nq === 0) {
        // Every cosine with a zero query is 0: the k lowest ordinals that pass.
        best = [];
        for (let ord = 0; best.length < k; ord++)
          if (!allow || allow[ord] === 1) best.push({ ord, score: 0 });
      } else if (hnsw) {
        best = await approximateSearch(
          client,
          c,
          hnsw,
          unitQuery(queries.data, at, queries.cols, nq),
          k,
          filter,
          state.iterative,
        );
      } else {
        best = await exactSearch(client.query, c, unitQuery(queries.data, at, queries.cols, nq), k, filter);
      }
      for (let r = 0; r < k; r++) {
        indices[i * k + r] = best[r].ord;
        scores[i * k + r] = best[r].score;
      }
    }
    return { queries: queries.rows, k, indices, scores };
  };

  /**
   * A new corpus table holding `x`. Its name is this backend's next (`<prefix>_<session>_<n>`); a
   * table of that name someone else made is passed over, never dropped (the clean-up once dropped
   * it, and its rows, when the CREATE failed on it). A dispose while this runs ends it with
   * `DISPOSED` and its table dropped: nothing is left resident or behind in the database.
   */
  const makeCorpus = async (x: Matrix): Promise<PgvectorCorpus> => {
    const client = await state.open('createCorpus');
    let table = '';
    for (let tries = 0; ; tries++) {
      table = state.newTable();
      try {
        await createTable(client.query, table, x.cols, true);
        break;
      } catch (e) {
        // 42P07: a relation of that name exists (not made by this session: the name is new to it).
        if (sqlState(e) === '42P07') {
          if (tries >= 8) throw e;
          continue;
        }
        // Any other failure may come after the table was made (its COMMENT failed, or a driver
        // reported an error for a statement that ran): the name is this session's own, so it goes.
        await client.query(`DROP TABLE IF EXISTS ${quote(table)}`).catch(ignore);
        throw e;
      }
    }
    const drop = () => client.query(`DROP TABLE IF EXISTS ${quote(table)}`).catch(() => undefined);
    try {
      await insertRows(client, table, x);
      // A short allow list then reads just its rows: at 20k x 384 on PGlite, 1% allowed took
      // 2.8 ms with this index against 36 ms scanning the table. Built after the rows go in.
      await client.query(`CREATE INDEX ON ${quote(table)} (ord)`);
      if (hnsw) {
        // Index options are not parameters in SQL either: they are checked integers.
        await client.query(
          `CREATE INDEX ON ${quote(table)} USING hnsw (v vector_cosine_ops) WITH (m = ${hnsw.m}, ef_construction = ${hnsw.efConstruction})`,
        );
      }
    } catch (e) {
      await drop();
      if (state.disposed) disposedBackend('createCorpus');
      throw e;
    }
    if (state.disposed) {
      await drop();
      disposedBackend('createCorpus');
    }
    const c = new PgvectorCorpus(state, table, x.rows, x.cols);
    state.live.add(c);
    return c;
  };

  const kernels: Partial<Kernels> = {
    async createCorpus(x: Matrix, o?: CorpusOptions): Promise<ResidentCorpus> {
      const storage = o?.storage ?? 'float32';
      if (x.cols > MAX_DIMS)
        argError(
          'UNSUPPORTED',
          'createCorpus',
          'x',
          `has ${x.cols} dimensions; pgvector stores at most ${MAX_DIMS}.`,
        );
      if (storage !== 'float32') {
        argError(
          'UNSUPPORTED',
          'createCorpus',
          'options.storage',
          `is '${storage}', but the pgvector backend stores corpora as float32 vectors.`,
        );
      }
      if (hnsw && x.cols > HNSW_MAX_DIMS)
        argError(
          'UNSUPPORTED',
          'createCorpus',
          'x',
          `has ${x.cols} dimensions; pgvector's HNSW index takes at most ${HNSW_MAX_DIMS} (search without 'hnsw' is exact at up to ${MAX_DIMS}).`,
        );
      const made = makeCorpus(x);
      state.creating.add(made);
      try {
        return await made;
      } finally {
        state.creating.delete(made);
      }
    },
    corpusSearch(corpus: ResidentCorpus, queries: Matrix, k: number): Promise<TopKResult> {
      return search('corpusSearch', corpus, queries, k, null);
    },
    corpusSearchAllowed(
      corpus: ResidentCorpus,
      queries: Matrix,
      k: number,
      allow: Uint8Array,
    ): Promise<TopKResult> {
      return search('corpusSearchAllowed', corpus, queries, k, allow);
    },
    corpusMatrix(corpus: ResidentCorpus, queries: Matrix, out?: Float32Array): Promise<Float32Array> {
      const c = own('corpusMatrix', corpus);
      return settled('corpusMatrix', c, async () => {
        const client = await state.open('corpusMatrix');
        // Every cosine is wanted: read the rows once and compute them exactly here, rather than
        // trust pgvector's float32 sums with a Q x N result.
        const data = await readRows(client.query, c.table, c.rows, c.cols);
        return referenceKernels.cosineMatrix(queries, { data, rows: c.rows, cols: c.cols }, out);
      });
    },
    readCorpus(corpus: ResidentCorpus): Promise<Float32Array> {
      const c = own('readCorpus', corpus);
      return settled('readCorpus', c, async () => {
        const client = await state.open('readCorpus');
        return readRows(client.query, c.table, c.rows, c.cols);
      });
    },
  };

  return {
    name: PGVECTOR_BACKEND_NAME,
    kernels,
    async init() {
      await state.open('init');
    },
    async dispose() {
      await state.close();
    },
    memory(): BackendMemory {
      // One table per live corpus; drops still in flight are awaited by dispose(), not counted.
      return { residentHandles: state.live.size, objects: state.live.size };
    },
    describe() {
      const client = state.client;
      return {
        engine: client?.kind === 'pg' ? 'Postgres server via pg' : 'PGlite (embedded Postgres in wasm)',
        server: state.serverVersion,
        pgvector: state.extension,
        search: hnsw
          ? `approximate: HNSW m=${hnsw.m} ef_construction=${hnsw.efConstruction} ef_search=${hnsw.efSearch}`
          : 'exact: pgvector cosine distance, top k rescored in float64',
        where:
          options.connectionString !== undefined || options.pool
            ? 'server'
            : options.pglite
              ? 'PGlite instance given'
              : (options.dataDir ?? 'memory://'),
        tablePrefix: prefix,
      };
    },
    writeTable: (name: string, input: Matrix) =>
      tableCall('writeTable', 'rows', (open) => writeTable(open, name, input)),
    readTable: (name: string, cols: number) =>
      tableCall('readTable', 'name', (open) => readTable(open, name, cols)),
    dropTable: (name: string, options?: { staleCorpus?: boolean }) =>
      tableCall('dropTable', 'name', (open) => dropTable(open, name, options)),
  };

  /**
   * {@link tableCallRun}, counted in flight: the backend's dispose() lets it finish (within
   * timeoutMs) before it closes the database, so a write it cut short no longer left its table.
   */
  function tableCall<T>(
    op: string,
    arg: string,
    body: (open: () => Promise<CallClient>) => Promise<T>,
  ): Promise<T> {
    const p = tableCallRun(op, arg, body);
    const settled = p.then(ignore, ignore).finally(() => state.tableCalls.delete(settled));
    state.tableCalls.add(settled);
    return p;
  }

  /**
   * A durable-table call `op` (whose data argument is `arg`), bounded by `timeoutMs`, every failure
   * typed by one rule:
   * - the caller's bad arguments are thrown as they are, checked before any statement;
   * - the database's refusals that concern the table named are `INVALID_ARGUMENT` naming `name`:
   *   an object of that name that is no table (42710), objects depending on it (2BP01), a column it
   *   lacks (42703), a row it cannot read (a NULL vector);
   * - the backend disposed under the call is `DISPOSED`;
   * - anything else is the database or its driver failing, `BACKEND_ERROR` naming the backend and
   *   `op`, with what the driver threw (or answered) as `cause`: another refusal of the database, a
   *   driver that threw something that is no database error (a string, a revoked Proxy), answered
   *   with no rows, rows that are not what the statement returns, or did not settle in time.
   * Past the time limit the call is abandoned: `open()`'s client sends none of its later statements
   * (a `writeTable` then drops the table it made).
   */
  async function tableCallRun<T>(
    op: string,
    arg: string,
    body: (open: () => Promise<CallClient>) => Promise<T>,
  ): Promise<T> {
    const ms = state.timeoutMs;
    let abandoned = false;
    const dog = watchdog(ms, () => {
      abandoned = true;
      return backendError(
        op,
        arg,
        PGVECTOR_BACKEND_NAME,
        op,
        `the database did not answer a statement within ${ms} ms (createPgvectorBackend({ timeoutMs }) sets the limit).`,
      );
    });
    const late = () => new DriverFault(`'${op}' was abandoned after ${ms} ms without an answer`);
    /**
     * Runs one statement of the call: none once abandoned, and each answer restarts the wait. An
     * answer that comes after the call was abandoned fails the statement, so the call's own clean-up
     * runs (a `writeTable` drops the table it made) rather than finishing for nobody.
     */
    const step = <R>(run: () => Promise<R>): Promise<R> => {
      if (abandoned) throw late();
      return run().then(
        (r) => {
          if (abandoned) throw late();
          dog.arm();
          return r;
        },
        (e: unknown) => {
          if (!abandoned) dog.arm();
          throw e;
        },
      );
    };
    const open = async (): Promise<CallClient> => {
      const client = await state.open(op);
      const copy = client.copyBinary?.bind(client);
      return {
        raw: client,
        query: (text, params) => step(() => client.query(text, params)),
        copyBinary: copy ? (table, columns, bytes) => step(() => copy(table, columns, bytes)) : undefined,
      };
    };
    try {
      dog.arm();
      return await Promise.race([body(open), dog.fired]);
    } catch (e) {
      if (isCosineKitError(e)) throw e;
      if (state.disposed) disposedBackend(op);
      const why = reasonOf(e);
      if (isInstance(e, UnreadableRow))
        throw argErrorOf(
          'INVALID_ARGUMENT',
          op,
          'name',
          `names a table this backend cannot read: ${why}.`,
          e,
        );
      if (isInstance(e, DriverFault))
        throw backendError(
          op,
          arg,
          PGVECTOR_BACKEND_NAME,
          op,
          `${why}.`,
          Object.hasOwn(e, 'cause') ? e.cause : e,
        );
      const code = sqlState(e);
      const named: Record<string, string> = {
        '42710': `names an object the database already has (a type or another relation): ${why}`,
        '2BP01': `is a table other objects depend on (a view, a foreign key): drop those first. ${why}`,
        '42703': `names a table without the columns this backend reads (ord, n, v): ${why}`,
      };
      if (code !== undefined && Object.hasOwn(named, code))
        throw argErrorOf('INVALID_ARGUMENT', op, 'name', named[code], e);
      throw backendError(
        op,
        arg,
        PGVECTOR_BACKEND_NAME,
        op,
        code === undefined ? `failed: ${why}` : `the database refused it (${code}): ${why}`,
        e,
      );
    } finally {
      dog.stop();
    }
  }

  async function writeTable(open: () => Promise<CallClient>, name: string, input: Matrix): Promise<void> {
    const table = checkName('writeTable', 'name', name);
    const { x: rows, factor } = tableRows('writeTable', 'rows', input);
    const client = await open();
    const exists = () =>
      argError('INVALID_ARGUMENT', 'writeTable', 'name', `is '${table}', a table that already exists.`);
    const [r] = await client.query('SELECT to_regclass($1) IS NOT NULL AS found', [quote(table)]);
    if (typeof r?.found !== 'boolean') answered('whether the table exists', r);
    if (r.found) exists();
    try {
      await createTable(client.query, table, rows.cols);
    } catch (e) {
      // Another call made it between the check and here (42P07: duplicate table).
      if (sqlState(e) === '42P07') exists();
      // Anything else (no answer within timeoutMs, a driver that failed after the statement ran):
      // the table it may have made goes, unbounded by the call's abandonment, so that a late
      // CREATE leaves no empty table behind (a retry was refused as 'already exists').
      await client.raw.query(`DROP TABLE IF EXISTS ${quote(table)}`).catch(ignore);
      throw e;
    }
    try {
      await insertRows(client, table, rows, factor);
    } catch (e) {
      // Unbounded by the call's abandonment: the table it made goes, whenever that is.
      await client.raw.query(`DROP TABLE IF EXISTS ${quote(table)}`).catch(ignore);
      throw e;
    }
  }

  async function readTable(open: () => Promise<CallClient>, name: string, cols: number): Promise<Tensor> {
    const table = checkName('readTable', 'name', name);
    checkInt('readTable', 'cols', cols, 1, 16000);
    const client = await open();
    const [col] = await client.query(
      "SELECT a.atttypmod AS dim, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = 'v' AND NOT a.attisdropped",
      [quote(table)],
    );
    if (!col)
      argError(
        'INVALID_ARGUMENT',
        'readTable',
        'name',
        `names no table with a vector column 'v': '${table}'.`,
      );
    const type = col.type;
    if (typeof type !== 'string' || typeof col.dim !== 'number') answered("the type of column 'v'", col);
    // vector(n)[] (an array of vectors) starts the same way and is no vector(n) either.
    if (!/^vector\(\d+\)$/.test(type))
      argError(
        'DIMENSION_MISMATCH',
        'readTable',
        'name',
        `names table '${table}', whose column 'v' is ${valueText(type)}, not vector(${cols}).`,
      );
    if (col.dim !== cols)
      argError(
        'DIMENSION_MISMATCH',
        'readTable',
        'cols',
        `is ${cols}, but table '${table}' holds ${valueText(type)} vectors.`,
      );
    const data = await readRows(client.query, table, null, cols);
    // A Tensor, as the kit takes it: a plain { data, rows, cols } was refused by kit.corpus().
    return new Tensor(data, data.length / cols, cols);
  }

  async function dropTable(
    open: () => Promise<CallClient>,
    name: string,
    options: { staleCorpus?: boolean } = {},
  ): Promise<boolean> {
    const table = checkName('dropTable', 'name', name);
    options = ownOptions('dropTable', options, ['staleCorpus']);
    const stale = options.staleCorpus;
    if (stale !== undefined && typeof stale !== 'boolean')
      argError('INVALID_TYPE', 'dropTable', 'options.staleCorpus', 'must be a boolean.');
    // A live corpus's table: dispose the corpus instead (it would be dropped under it).
    if ([...state.live].some((c) => c.table === table))
      argError(
        'INVALID_ARGUMENT',
        'dropTable',
        'name',
        `is '${table}', the table of a live corpus: dispose the corpus instead.`,
      );
    const client = await open();
    const [r] = await client.query(
      "SELECT c.relkind::text AS kind, n.nspname AS schema, coalesce(obj_description(c.oid, 'pg_class'), '') AS note FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
      [quote(table)],
    );
    if (!r) return false;
    const { kind, schema, note } = r;
    if (typeof kind !== 'string' || typeof schema !== 'string' || typeof note !== 'string')
      answered('what the table is', r);
    if (note === CORPUS_TABLE_NOTE && stale !== true)
      argError(
        'INVALID_ARGUMENT',
        'dropTable',
        'name',
        `is '${table}', a resident corpus's table (of this backend or another on the same database): dispose the corpus instead, or, for one a process left behind, pass { staleCorpus: true }.`,
      );
    // Only an ordinary table of the caller's: not a view, an index or the database's own catalog
    // (Postgres's own errors for those once escaped raw).
    if (kind !== 'r' || schema === 'information_schema' || schema.startsWith('pg_'))
      argError(
        'INVALID_ARGUMENT',
        'dropTable',
        'name',
        `is '${table}', which is not a table this backend drops.`,
      );
    await client.query(`DROP TABLE ${quote(table)}`);
    return true;
  }
}

/** The client of one durable-table call: `raw` is the backend's, the others stop once the call is abandoned. */
interface CallClient extends Pick<SqlClient, 'query' | 'copyBinary'> {
  readonly raw: SqlClient;
}

/**
 * Throws the {@link DriverFault} for a row the database answered `what` with that is not what the
 * statement returns (a column missing, or of another type): nothing is trusted from it.
 */
function answered(what: string, row: unknown): never {
  throw new DriverFault(`the database answered ${what} with a row this statement does not return`, {
    cause: row,
  });
}

/** The longest a search runs between turns of the event loop (see `turn`), ms. */
const TURN_MS = 10;

/**
 * One turn of the event loop (`setImmediate` in Node, else a zero timeout): timers, an abort and a
 * dispose then run between the queries of a search on embedded PGlite, whose queries settle
 * without one.
 */
function turn(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}
