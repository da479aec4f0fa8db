import { defineConfig } from 'vite';

// The browser page (index.html + src/browser). Built into build/web (gitignored), served on 127.0.0.1.
// The chunk limit is for the MNIST digits (20 MB of JSON), loaded only when that workload is chosen.
// Served cross-origin isolated (COOP + COEP): SharedArrayBuffer, and with it the wasm backend's
// helper threads and tfjs-wasm's threaded build, exist only on such pages.
const isolated = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  build: { outDir: 'build/web', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 25_000 },
  server: { host: '127.0.0.1', headers: isolated },
  preview: { host: '127.0.0.1', headers: isolated },
});
