import { describe, expect, it } from 'vitest';
import { createTfjsBackend, initTfjsEngine } from '../src/index.js';
import { matrix } from './helpers.js';

// Its own file, so tfjs-wasm starts uninitialised in this worker.
describe('a tfjs engine that fails to start', () => {
  it('rejects with tfjs own reason, and never runs another engine instead', async () => {
    const broken = createTfjsBackend({ engine: 'wasm', wasmPaths: '/nonexistent/tfjs-wasm/' });
    const failure = broken.init();
    // A kernel called during the failing init shares it and fails the same way.
    const call = broken.kernels.rowNorms(matrix(1, 3, 1));
    await expect(failure).rejects.toThrow(/could not initialise its 'wasm' engine: .*\S/);
    await expect(call).rejects.toThrow(/'wasm' engine/);
    // tfjs-wasm accepts no new paths after an aborted init, so a retry reports the same reason.
    await expect(initTfjsEngine('wasm')).rejects.toThrow(/ENOENT|nonexistent/);
    await expect(broken.init()).rejects.toThrow(/nonexistent/);
    // The cpu engine still starts and is the one that runs.
    const tf = await initTfjsEngine('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });
});
