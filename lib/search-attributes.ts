import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Sluice's typed search attributes (docs/architecture.md#operating). The dev server registers them at start
 * (`sluice stack up`); a production cluster needs `temporal operator search-attribute create`
 * for each (see docs/operations.md). Pure: importable from workflow code.
 */
export const SluicePipeline = defineSearchAttributeKey('SluicePipeline', SearchAttributeType.KEYWORD);
export const SluiceKind = defineSearchAttributeKey('SluiceKind', SearchAttributeType.KEYWORD);
export const SluicePool = defineSearchAttributeKey('SluicePool', SearchAttributeType.KEYWORD);
export const SluiceTenant = defineSearchAttributeKey('SluiceTenant', SearchAttributeType.KEYWORD);
export const SluiceState = defineSearchAttributeKey('SluiceState', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [SluicePipeline, SluiceKind, SluicePool, SluiceTenant, SluiceState] as const;

/** `Name=Type` as the temporal CLI's `--search-attribute` flag takes them. */
export function searchAttributeFlags(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);
}
