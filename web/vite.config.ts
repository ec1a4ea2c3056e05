// The page is package data of the Python package: `npm run build` writes it where the web app serves it
// from (src/trails/ui/web/static: index.html at /, assets under /assets/). Never committed.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: fileURLToPath(new URL("../src/trails/ui/web/static", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
});
