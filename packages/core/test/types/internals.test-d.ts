// biome-ignore-all assist/source/organizeImports: each import below carries its own @ts-expect-error
// Internals stay internal: importing them by name from either entry is a compile error. (Core's
// own tests reach them by relative path.)
import { expectTypeOf, test } from 'vitest';
// @ts-expect-error dotTiles is an internal of the reference kernels
import { dotTiles } from '@cosinekit/core';
// @ts-expect-error registerBackend is for backend authors: @cosinekit/core/backend
import { registerBackend } from '@cosinekit/core';
// @ts-expect-error not even the backend authors' entry exposes the tile loop
import { dotTiles as backendDotTiles } from '@cosinekit/core/backend';

test('the failed imports above are the assertions', () => {
  // Referenced so that no linter removes the imports the expectations sit on.
  expectTypeOf([dotTiles, registerBackend, backendDotTiles]).toBeArray();
});
