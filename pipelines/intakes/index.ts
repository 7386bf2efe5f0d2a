import type { IntakeSpec } from '../../lib/intake/spec';
import { pageViewLogs } from './page-view-logs';

/** The intakes this deployment runs, by name (`sluice intake <name>`; a JSON spec file works too). */
export const INTAKES: Readonly<Record<string, IntakeSpec>> = Object.fromEntries(
  [pageViewLogs].map((i) => [i.name, i] as const),
);
