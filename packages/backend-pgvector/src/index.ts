/**
 * @cosinekit/backend-pgvector: CosineKit corpora kept in Postgres with pgvector, embedded (PGlite,
 * in memory, a directory or IndexedDB) or on any server through `pg`. The same `Corpus` code runs on
 * it; exact search by default, pgvector's HNSW index on request. Side-effect free.
 */

export type { HnswOptions, PgvectorBackend, PgvectorBackendOptions } from './backend.js';
export { createPgvectorBackend, distanceError, PGVECTOR_BACKEND_NAME } from './backend.js';
export type { PGliteLike, PoolLike, SqlRow } from './client.js';
