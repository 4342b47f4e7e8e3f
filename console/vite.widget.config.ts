// The website widget's build: one self-contained `dist/widget.js` (no React) beside the console's files, so the Backend and nginx serve it at `/widget.js`.
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    lib: { entry: 'src/widget/main.ts', formats: ['iife'], name: 'VoxWidget', fileName: () => 'widget.js' },
  },
});
