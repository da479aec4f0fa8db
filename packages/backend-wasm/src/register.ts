/**
 * Registers the wasm backend as `'wasm'` (priority 10, ahead of the reference) for the default kit.
 *
 * ```ts
 * import '@cosinekit/backend-wasm/register';
 * ```
 */
import { registerBackend } from '@cosinekit/core/backend';
import { createWasmBackend } from './index.js';

registerBackend('wasm', () => createWasmBackend(), 10);
