// Build step (run by build.py with Node): bundle the page script and the worker from runtime/src with esbuild.
//
//   node runtime/bundle.mjs OUT_DIR
//
// The page script is split: what starts Python loads first, each panel's code (editor, charts) on demand.
import path from "node:path";
import fs from "node:fs/promises";
import * as esbuild from "esbuild";
import { watPlugin } from "./kernels/assemble.mjs";

// CodeMirror draws tab markers and lint underlines with inline SVG whose namespace is written as a URL. It is a
// name, never fetched, but the bundle should name no other host at all, so a real one (a CDN fallback in some
// future dependency) stands out: the namespace is percent-encoded, which the data: URL decodes back unchanged.
const SVG_NAMESPACE = 'xmlns="http://www.w3.org/2000/svg"';
const encodeSvgNamespace = {
  name: "encode-svg-namespace",
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.js$/ }, async (args) => {
      const source = await fs.readFile(args.path, "utf8");
      if (!source.includes(SVG_NAMESPACE)) return undefined;
      const encoded = 'xmlns="' + encodeURIComponent("http://www.w3.org/2000/svg") + '"';
      return { contents: source.replaceAll(`data:image/svg+xml,<svg ${SVG_NAMESPACE}`,
                                           `data:image/svg+xml,<svg ${encoded}`), loader: "js" };
    });
  },
};

// @cfworker/json-schema (the export format's validator) falls back to a base URI on its authors' host where a page
// has no location; a page always has one, so the fallback becomes a URN that names no host at all.
const CFWORKER_FALLBACK = "new URL('https://github.com/cfworker')";
const noFallbackHost = {
  name: "no-fallback-host",
  setup(build) {
    build.onLoad({ filter: /[\\/]@cfworker[\\/]json-schema[\\/].*\.js$/ }, async (args) => {
      const source = await fs.readFile(args.path, "utf8");
      if (!source.includes(CFWORKER_FALLBACK)) return undefined;
      return { contents: source.replaceAll(CFWORKER_FALLBACK, "new URL('urn:cfworker')"), loader: "js" };
    });
  },
};

const outDir = process.argv[2];
const src = path.resolve(import.meta.dirname, "src");
const common = { bundle: true, format: "esm", minify: true, sourcemap: true, target: "es2020", logLevel: "warning",
                 plugins: [encodeSvgNamespace, noFallbackHost, watPlugin] };
await esbuild.build({ ...common, entryPoints: [path.join(src, "main.js")], splitting: true,
                      chunkNames: "chunk-[hash]", outdir: outDir });
await esbuild.build({ ...common, entryPoints: [path.join(src, "worker.js")], outfile: path.join(outDir, "worker.js") });
// A classic worker (it loads mkdocs-material's search worker with importScripts).
await esbuild.build({ ...common, format: "iife", entryPoints: [path.join(src, "search-worker.js")],
                      outfile: path.join(outDir, "search-worker.js") });
