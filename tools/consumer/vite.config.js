import { defineConfig } from 'vite';

// Two pages: index.html, and isolated.html served cross-origin isolated (COOP + COEP), which
// SharedArrayBuffer and so the wasm backend's helper threads need. The assets get the headers too,
// as a real isolated site sends them: Chromium blocks a worker script of an isolated page that
// comes without COEP (the wasm backend's helper script is a file of its own, not inlined), while
// index.html, served without them, stays a plain page. tfjs is large; the chunk-size warning says
// nothing about our packages.
const isolation = {
  name: 'cross-origin-isolation',
  configurePreviewServer(server) {
    server.middlewares.use((req, res, next) => {
      if (req.url?.startsWith('/isolated') || req.url?.startsWith('/assets/')) {
        res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
        res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
      }
      next();
    });
  },
};

export default defineConfig({
  plugins: [isolation],
  build: {
    outDir: 'build',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 10_000,
    rolldownOptions: { input: { index: 'index.html', isolated: 'isolated.html' } },
  },
  preview: { host: '127.0.0.1', port: 4317 },
});
