import { describeType, errorText, isCosineKitError, valueText } from '@cosinekit/core/backend';
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

/**
 * What a driver threw, in words: an Error's message, else what an object says of itself (PGlite
 * throws Emscripten's `{ name: 'ErrnoError', errno }` for a data directory that is a file), else
 * its string (which was "[object Object]"). A value that cannot be inspected (a revoked Proxy) is
 * described by core's `errorText`, never a second error.
 */
export function reasonOf(e: unknown): string {
  try {
    if (e instanceof Error) return e.message;
    if (typeof e === 'object' && e !== null) {
      const o = e as { message?: unknown; name?: unknown; errno?: unknown };
      if (typeof o.message === 'string') return o.message;
      if (typeof o.name === 'string')
        return o.errno !== undefined ? `${o.name} (errno ${valueText(o.errno)})` : o.name;
      return JSON.stringify(e) ?? describeType(e);
    }
  } catch {
    // A getter, a cycle or a revoked Proxy: core's safe text below.
  }
  return errorText(e);
}

/**
 * A fault of the driver, not a refusal of the database: it threw something that is no database
 * error (a string, `undefined`, a revoked Proxy, an error without a SQLSTATE `code`), or answered
 * a statement with something that is not rows. The backend reports it as `BACKEND_ERROR`; `cause`
 * is what the driver threw or returned.
 */
export class DriverFault extends Error {
  override readonly name = 'PgvectorDriverFault';
}

/** `e instanceof C` for a thrown value, whose inspection may throw (a revoked Proxy): false then. */
export function isInstance<T>(e: unknown, C: abstract new (...args: never[]) => T): e is T {
  try {
    return e instanceof C;
  } catch {
    return false;
  }
}

/** The SQLSTATE (or driver code) a database error carries, read without trusting the value. */
export function sqlState(e: unknown): string | undefined {
  try {
    if (isCosineKitError(e) || isInstance(e, DriverFault)) return undefined;
    const code = (e as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs one call of the driver (`what` names it for messages) and hands back its rows: the one door
 * every statement goes through. A database error (an object with a string `code`) passes as it is,
 * for the backend to name; anything else thrown, and an answer that is not an array of row objects,
 * is a {@link DriverFault}. The rows are copied into a plain array, read once.
 */
export async function driverCall(what: string, call: () => unknown): Promise<SqlRow[]> {
  let result: unknown;
  try {
    // Awaited inside the try: a thenable whose `then` throws rejects here.
    result = await call();
  } catch (e) {
    if (sqlState(e) !== undefined) throw e;
    throw new DriverFault(`${what} threw ${thrownText(e)}`, { cause: e });
  }
  try {
    const rows = (result as { rows?: unknown } | null)?.rows;
    if (!Array.isArray(rows))
      throw new DriverFault(`${what} answered with ${describeType(rows)} for its rows, not an array`, {
        cause: result,
      });
    const out: SqlRow[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r: unknown = rows[i];
      if (typeof r !== 'object' || r === null)
        throw new DriverFault(`${what} answered with ${describeType(r)} as row ${i}, not a row object`, {
          cause: result,
        });
      out[i] = r as SqlRow;
    }
    return out;
  } catch (e) {
    if (e instanceof DriverFault) throw e;
    throw new DriverFault(`${what} answered with rows that cannot be read: ${reasonOf(e)}`, { cause: e });
  }
}

/** A thrown value for a message: its type, then its text (a revoked Proxy's included). */
function thrownText(e: unknown): string {
  if (typeof e === 'string') return `the string ${valueText(e)}`;
  if ((typeof e !== 'object' && typeof e !== 'function') || e === null) return String(e);
  const type = describeType(e);
  // A value that cannot be inspected has no text either: its description says so.
  return type.startsWith('an object that cannot') ? type : `${type}: ${reasonOf(e)}`;
}

/** Wraps a PGlite instance; `owned` says whether closing the client closes the database. */
export function pgliteClient(db: PGliteLike, owned: boolean): SqlClient {
  return {
    kind: 'pglite',
    query: (text, params) =>
      driverCall("PGlite's query", () => db.query<SqlRow>(text, params ? [...params] : undefined)),
    transaction: (body) =>
      db.transaction((tx) =>
        body((text, params) =>
          driverCall("PGlite's transaction query", () =>
            tx.query<SqlRow>(text, params ? [...params] : undefined),
          ),
        ),
      ),
    async copyBinary(table, columns, bytes) {
      // Binary COPY hands pgvector its float32 values as they are: no decimal text to parse, which
      // in wasm is most of the cost of loading a corpus. `table` and `columns` are quoted identifiers.
      await driverCall("PGlite's COPY", () =>
        db.query(`COPY ${table} (${columns}) FROM '/dev/blob' WITH (FORMAT binary)`, [], {
          blob: new Blob([bytes]),
        }),
      );
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
    query: (text, params) =>
      driverCall("pg's query", () => pool.query(text, params ? [...params] : undefined)),
    async transaction(body) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const r = await body((text, params) =>
          driverCall("pg's transaction query", () => c.query(text, params ? [...params] : undefined)),
        );
        await c.query('COMMIT');
        c.release();
        return r;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        c.release(isInstance(e, Error) ? e : true);
        throw e;
      }
    },
    async close() {
      if (owned) await pool.end();
    },
  };
}
