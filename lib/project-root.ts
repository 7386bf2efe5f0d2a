import * as path from 'node:path';

/**
 * The project's root folder: this file compiles to dist/lib/project-root.js and runs as
 * lib/project-root.ts under jest. Local defaults (the lake, the stack's cache) live below it.
 */
export const PROJECT_ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
