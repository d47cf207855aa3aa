// Compile one .tsx template to one ESM file: `bun compile.ts <entry> <outfile> <templates-root>`.
// React and React Email stay external (the render processes provide them); relative imports are bundled, but
// only from inside the templates folder, and no other package may be imported.
import { dirname, isAbsolute, relative, resolve } from "node:path";

const [entry, outfile, rootArg] = process.argv.slice(2);
if (!entry || !outfile || !rootArg) {
  console.error("usage: bun compile.ts <entry.tsx> <outfile.js> <templates-root>");
  process.exit(2);
}
const root = resolve(rootArg);
const PACKAGES = /^(react|react-dom|react\/jsx-runtime|react\/jsx-dev-runtime|@react-email\/[a-z-]+)$/;

const confine: import("bun").BunPlugin = {
  name: "iep-confine",
  setup(build) {
    build.onResolve({ filter: /^(\.{0,2})\// }, (args) => {
      const target = resolve(args.importer ? dirname(args.importer) : root, args.path);
      const rel = relative(root, target);
      if (rel.startsWith("..") || isAbsolute(rel)) {
        throw new Error(`${args.path}: templates may only import files inside the templates folder`);
      }
      return undefined;
    });
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (!PACKAGES.test(args.path)) {
        throw new Error(`${args.path}: templates may import react, react-dom and @react-email/* only`);
      }
      return { path: args.path, external: true };
    });
  },
};

const result = await Bun.build({
  entrypoints: [resolve(entry)],
  target: "bun",
  format: "esm",
  plugins: [confine],
  define: { "process.env.NODE_ENV": '"production"' },
  throw: false,
});
if (!result.success || result.outputs.length !== 1) {
  for (const message of result.logs) console.error(String(message));
  process.exit(1);
}
// Bun leaves its built-in modules (node:fs, bun:ffi, ...) external without asking plugins: check what is left.
const code = await result.outputs[0].text();
const patterns = [
  /^\s*(?:import|export)\b[^;"']*?\bfrom\s*["']([^"']+)["']/gm, // static import / re-export
  /^\s*import\s*["']([^"']+)["']/gm, // side-effect import
  /\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g, // dynamic import, require
];
const specifiers = patterns.flatMap((re) => [...code.matchAll(re)].map((m) => m[1]));
const refused = specifiers.filter((s) => !PACKAGES.test(s));
if (refused.length > 0) {
  console.error(`error: ${refused.join(", ")}: templates may import react, react-dom and @react-email/* only`);
  process.exit(1);
}
await Bun.write(outfile, result.outputs[0]);
