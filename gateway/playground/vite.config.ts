/**
 * Builds the playground (GraphiQL 5 + React 19) into gateway/playground-dist/, served by the gateway
 * under /playground/. Self-contained: Monaco's workers are bundled as ES workers and GraphiQL's fonts
 * are inlined, so the page needs no CDN and no internet.
 *   cd gateway && npx vite build --config playground/vite.config.ts
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/playground/',
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('../playground-dist/', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    // GraphiQL with Monaco is a few MB; that is expected for an offline IDE.
    chunkSizeWarningLimit: 8192,
    rollupOptions: {
      onwarn(warning, warn) {
        // framer-motion's "use client" directives mean nothing outside React Server Components.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  worker: { format: 'es' },
  // `npx vite --config playground/vite.config.ts` for UI work against a gateway running on :4000.
  server: { proxy: { '/graphql': { target: 'http://localhost:4000', ws: true } } },
});
