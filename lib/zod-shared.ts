/**
 * zod, as the workflow bundle preloads it (`workers/bundle.ts`). A preloaded module is evaluated
 * once per worker thread and shared by every workflow run, instead of once per run. zod qualifies:
 * it keeps no state between calls but its global configuration, set below.
 *
 * - Preloading `zod` by name does not work: its package declares `sideEffects: false`, so webpack
 *   drops a bare `require('zod')`; this re-export keeps it.
 * - The worker freezes shared modules after preloading, and zod writes its global configuration
 *   (default messages, memoizer) when it builds its first schema: build one now, while it can.
 * - Schemas are not shared (each module builds its own per run): zod defines their methods lazily.
 */
import { z } from 'zod';

z.object({ warmUp: z.array(z.string()) });

export { z };
