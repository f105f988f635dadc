// Builds the dashboard into dist/ (embedded by nexusd): hashed files under
// assets/, the TypeScript SDK's browser client compiled in from source.
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";
import tailwindcss from "@tailwindcss/vite";
import { fileURLToPath } from "node:url";

export default defineConfig({
  plugins: [preact(), tailwindcss()],
  resolve: {
    alias: {
      "@nexus-dev/sdk/browser": fileURLToPath(new URL("../sdk/typescript/src/browser.ts", import.meta.url)),
    },
  },
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    reportCompressedSize: false,
  },
});
