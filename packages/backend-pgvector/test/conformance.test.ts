import { runConformance } from '@cosinekit/conformance';
import { createPgvectorBackend } from '../src/index.js';
import { serveOnWire } from './servers.js';

// Default tolerances (cosine 2e-5, algebra 1e-5): the k best are rescored in float64 from the stored
// float32 rows, and the similarity matrix is computed from them the same way.
runConformance({ name: 'pgvector on PGlite', create: () => createPgvectorBackend(), timeout: 120_000 });

// The `pg` path for real: PGlite served on the wire protocol, reached by connection string.
runConformance({
  name: 'pgvector over the wire (pg)',
  timeout: 120_000,
  create: async () => {
    const server = await serveOnWire();
    const backend = createPgvectorBackend({ connectionString: server.url, poolSize: 2 });
    const dispose = backend.dispose!.bind(backend);
    backend.dispose = async () => {
      await dispose();
      await server.stop();
    };
    return backend;
  },
});

// Any real server, when one is named (e.g. postgres://postgres:postgres@localhost:5432/postgres).
const url = process.env.COSINEKIT_PGVECTOR_URL;
if (url) {
  runConformance({
    name: 'pgvector on COSINEKIT_PGVECTOR_URL',
    timeout: 120_000,
    create: () => createPgvectorBackend({ connectionString: url }),
  });
}
