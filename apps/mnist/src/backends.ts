import { type Backend, type CosineKit, createCosineKit, type KitInfo } from '@cosinekit/core';

/** A kit ready to use, or the reason a backend is not available here. */
export type LoadedBackend =
  | { readonly name: string; readonly kit: CosineKit; readonly info: KitInfo }
  | { readonly name: string; readonly reason: string };

/**
 * Creates a kit for `name` (`'reference'` or `'wasm'`; `threads` caps the wasm backend's threads). The wasm backend is imported dynamically
 * (a computed specifier, so this app also builds while that package is not built yet): when it is
 * missing or fails to start, the reason comes back instead of a kit, and the caller prints it.
 */
export async function loadBackend(
  name: string,
  threads?: number,
  variant: 'auto' | 'simd' | 'relaxed' = 'auto',
): Promise<LoadedBackend> {
  try {
    let kit: CosineKit;
    if (name === 'wasm') {
      const specifier = '@cosinekit/backend-wasm';
      const mod = (await import(specifier)) as {
        createWasmBackend?: (options?: { threads?: number; variant?: string }) => Backend;
      };
      if (typeof mod.createWasmBackend !== 'function') {
        return { name, reason: '@cosinekit/backend-wasm does not export createWasmBackend (yet).' };
      }
      kit = createCosineKit({
        backend: mod.createWasmBackend({ ...(threads === undefined ? {} : { threads }), variant }),
      });
    } else {
      kit = createCosineKit({ backend: name });
    }
    return { name, kit, info: await kit.ready() };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { name, reason: message.split('\n')[0] };
  }
}
