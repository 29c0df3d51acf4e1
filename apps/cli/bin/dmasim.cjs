#!/usr/bin/env node
// The `dmasim` executable: the bundle is CommonJS, which Node 20 starts faster than ES modules.
// Node 22+ keeps V8's compiled code of the bundle between runs (module.enableCompileCache); on
// Node 20 the call does not exist and nothing changes.
"use strict";
const nodeModule = require("node:module");

if (typeof nodeModule.enableCompileCache === "function") {
  nodeModule.enableCompileCache();
}
require("../dist/cli.cjs");
