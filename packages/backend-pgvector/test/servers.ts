import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** An embedded database with pgvector loaded, in memory. */
export function openDatabase(): Promise<PGlite> {
  return PGlite.create('memory://', { extensions: { vector } });
}

/** PGlite with pgvector served on the Postgres wire protocol on 127.0.0.1, on a free port. */
export interface WireServer {
  readonly url: string;
  readonly db: PGlite;
  stop(): Promise<void>;
}

export async function serveOnWire(): Promise<WireServer> {
  const db = await openDatabase();
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    // The default is one connection; a pool needs more.
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: 8 });
    try {
      await server.start();
    } catch (e) {
      if (attempt < 5) continue;
      await db.close();
      throw e;
    }
    return {
      url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
      db,
      async stop() {
        await server.stop();
        await db.close();
      },
    };
  }
}
