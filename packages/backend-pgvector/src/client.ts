import { valueText } from '@cosinekit/core/backend';
/**
 * The two ways to reach a database, behind one small interface: PGlite embedded in this process,
 * or any Postgres server through `pg`'s pool. Every statement goes out with its values as
 * parameters; the only text ever spliced into SQL is a validated identifier or a checked integer.
 */

/** A row as the drivers return it: column name to value. */
export type SqlRow = Record<string, unknown>;

/** Runs one parameterised statement. */
export type SqlQuery = (text: string, params?: readonly unknown[]) => Promise<SqlRow[]>;

/** A connection to a database with pgvector. */
export interface SqlClient {
  /** Runs a statement on any connection of the pool (PGlite has one). */
  query: SqlQuery;
  /** Runs `body` in one transaction on one connection (for `SET LOCAL`-style settings). */
  transaction<T>(body: (query: SqlQuery) => Promise<T>): Promise<T>;
  /** Closes the connection (the pool, or the embedded database when this client opened it). */
  close(): Promise<void>;
  /**
   * Loads a binary COPY stream into a table, when the client can (PGlite reads it from a blob);
   * otherwise rows go in as array parameters of INSERT.
   */
  copyBinary?(table: string, columns: string, bytes: Uint8Array<ArrayBuffer>): Promise<void>;
  /** What the client talks to, for `describe()`. */
  readonly kind: 'pglite' | 'pg';
}

/** The part of a PGlite instance this package uses (so a caller may bring their own). */
export interface PGliteLike {
  query<T>(text: string, params?: unknown[], options?: { blob?: Blob }): Promise<{ rows: T[] }>;
  transaction<T>(
    body: (tx: { query<R>(text: string, params?: unknown[]): Promise<{ rows: R[] }> }) => Promise<T>,
  ): Promise<T>;
  close(): Promise<void>;
}

/** Opens PGlite with pgvector, in memory or at `dataDir` (a directory in Node, `idb://name` in browsers). */
export async function openPGlite(dataDir: string | undefined): Promise<PGliteLike> {
  const [{ PGlite }, { vector }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-pgvector'),
  ]);
  return (await PGlite.create(dataDir ?? 'memory://', { extensions: { vector } })) as unknown as PGliteLike;
}

/** Wraps a PGlite instance; `owned` says whether closing the client closes the database. */
/**
 * What a driver threw, in words: an Error's message, else what an object says of itself (PGlite
 * throws Emscripten's `{ name: 'ErrnoError', errno }` for a data directory that is a file), else
 * its string (which was "[object Object]").
 */
export function reasonOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null) {
    try {
      const o = e as { message?: unknown; name?: unknown; errno?: unknown };
      if (typeof o.message === 'string') return o.message;
      if (typeof o.name === 'string')
        return o.errno !== undefined ? `${o.name} (errno ${valueText(o.errno)})` : o.name;
      return JSON.stringify(e) ?? String(e);
    } catch {
      // A getter or a cycle: the plain string below.
    }
  }
  try {
    return String(e);
  } catch {
    return 'an error that cannot be shown';
  }
}

export function pgliteClient(db: PGliteLike, owned: boolean): SqlClient {
  return {
    kind: 'pglite',
    query: async (text, params) => (await db.query<SqlRow>(text, params ? [...params] : undefined)).rows,
    transaction: (body) =>
      db.transaction((tx) =>
        body(async (text, params) => (await tx.query<SqlRow>(text, params ? [...params] : undefined)).rows),
      ),
    async copyBinary(table, columns, bytes) {
      // Binary COPY hands pgvector its float32 values as they are: no decimal text to parse, which
      // in wasm is most of the cost of loading a corpus. `table` and `columns` are quoted identifiers.
      await db.query(`COPY ${table} (${columns}) FROM '/dev/blob' WITH (FORMAT binary)`, [], {
        blob: new Blob([bytes]),
      });
    },
    async close() {
      if (owned) await db.close();
    },
  };
}

interface PoolClientLike {
  query(text: string, params?: unknown[]): Promise<{ rows: SqlRow[] }>;
  release(err?: Error | boolean): void;
}

/** The part of a `pg.Pool` this package uses. */
export interface PoolLike {
  query(text: string, params?: unknown[]): Promise<{ rows: SqlRow[] }>;
  connect(): Promise<PoolClientLike>;
  end(): Promise<void>;
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

/** Opens a `pg` pool to `connectionString` (pg is an optional peer dependency, loaded on demand). */
export async function openPool(connectionString: string, max: number): Promise<PoolLike> {
  let mod: { default?: { Pool: new (o: object) => PoolLike }; Pool?: new (o: object) => PoolLike };
  try {
    mod = (await import('pg')) as typeof mod;
  } catch (e) {
    throw new Error(`reaching a server needs the 'pg' package (npm i pg): ${reasonOf(e)}`);
  }
  const Pool = mod.default?.Pool ?? mod.Pool;
  if (!Pool) throw new Error("the 'pg' package does not export Pool");
  const pool = new Pool({ connectionString, max, connectionTimeoutMillis: 10_000 });
  // An idle connection dropped by the server must not crash the process; the next query reports it.
  pool.on?.('error', () => undefined);
  return pool;
}

/** Wraps a `pg` pool; `owned` says whether closing the client ends the pool. */
export function poolClient(pool: PoolLike, owned: boolean): SqlClient {
  return {
    kind: 'pg',
    query: async (text, params) => (await pool.query(text, params ? [...params] : undefined)).rows,
    async transaction(body) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const r = await body(
          async (text, params) => (await c.query(text, params ? [...params] : undefined)).rows,
        );
        await c.query('COMMIT');
        c.release();
        return r;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        c.release(e instanceof Error ? e : true);
        throw e;
      }
    },
    async close() {
      if (owned) await pool.end();
    },
  };
}
