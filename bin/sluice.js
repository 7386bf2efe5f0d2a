#!/usr/bin/env node
// The installed `sluice` command (package.json "bin"). Runs the compiled CLI; `./sluice` at the
// repository root also installs the npm dependencies and builds first.
require('../dist/cli/main.js')
  .main(process.argv)
  .then(() => process.exit(process.exitCode ?? 0));
