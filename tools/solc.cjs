#!/usr/bin/env node
// A `solc`-compatible command over the official compiler's WebAssembly build (npm `solc`).
// Nothing can download a native solc on our machines, yet forge, py-solc-x and slither all expect a
// `solc` executable. This answers the two calls they make:
//   solc --version                       -> the same two lines as the native compiler
//   solc --standard-json [--base-path P] [--include-path P]... [--allow-paths ...]   (stdin -> stdout)
// Imports that are not in the input are resolved from the base path, then each include path, then
// node_modules beside this file (so `@openzeppelin/...` resolves with no remapping).
"use strict";
const fs = require("fs");
const path = require("path");

// Emscripten installs handlers that swallow errors; keep ours.
const solc = require("solc");
process.removeAllListeners("uncaughtException");

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: null, includePaths: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const takeValue = () => {
      if (a.includes("=")) return a.slice(a.indexOf("=") + 1);
      i += 1;
      return argv[i];
    };
    if (a === "--version" || a === "-v") opts.version = true;
    else if (a === "--standard-json") opts.standardJson = true;
    else if (a === "--help" || a === "-h") opts.help = true;
    else if (a.startsWith("--base-path")) opts.basePath = takeValue();
    else if (a.startsWith("--include-path")) opts.includePaths.push(takeValue());
    else if (a.startsWith("--allow-paths")) takeValue(); // reads are already confined to the roots below
    else if (a === "--no-import-callback" || a === "-" || a.startsWith("--pretty-json") || a.startsWith("--json-indent")) {
      // accepted for compatibility; nothing to do
    } else {
      process.stderr.write(`solc (wasm wrapper): unsupported option ${a}; only --version and --standard-json are served\n`);
      process.exit(2);
    }
  }
  return opts;
}

function nativeVersionString() {
  // solc-js reports e.g. "0.8.30+commit.73712a01.Emscripten.clang"; tools parse "Version: X.Y.Z+commit...".
  return solc.version();
}

function makeImportResolver(roots) {
  return function findImports(importPath) {
    for (const root of roots) {
      const candidate = path.resolve(root, importPath);
      // Confine reads to the declared roots: an import can never escape them with "..".
      const rel = path.relative(root, candidate);
      if (rel.startsWith("..") || path.isAbsolute(rel)) continue;
      try {
        return { contents: fs.readFileSync(candidate, "utf8") };
      } catch (_err) {
        // not under this root; try the next one
      }
    }
    return { error: `File not found in base path, include paths or node_modules: ${importPath}` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write("solc (wasm wrapper): --version | --standard-json [--base-path P] [--include-path P]\n");
    return 0;
  }
  if (opts.version) {
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${nativeVersionString()}\n`);
    return 0;
  }
  if (!opts.standardJson) {
    process.stderr.write("solc (wasm wrapper): pass --standard-json (input on stdin) or --version\n");
    return 2;
  }
  const input = fs.readFileSync(0, "utf8");
  const base = path.resolve(opts.basePath || process.cwd());
  const roots = [base, ...opts.includePaths.map((p) => path.resolve(base, p)), path.resolve(__dirname, "..", "node_modules")];
  const output = solc.compile(input, { import: makeImportResolver(roots) });
  process.stdout.write(output);
  return 0;
}

process.exitCode = main();
