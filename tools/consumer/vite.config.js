import { defineConfig } from 'vite';

// tfjs is large; the warning says nothing about our packages.
export default defineConfig({
  build: { outDir: 'build', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 10_000 },
  preview: { host: '127.0.0.1', port: 4317 },
});
