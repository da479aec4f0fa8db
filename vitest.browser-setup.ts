// Runs in each browser test page before its test files: publishes the provided settings (see
// vitest.shared.ts) where the property suite looks for them, since pages have no process.env.
import { inject } from 'vitest';

(globalThis as { __COSINEKIT_ENV__?: unknown }).__COSINEKIT_ENV__ = (
  inject as unknown as (k: string) => unknown
)('cosinekitEnv');
