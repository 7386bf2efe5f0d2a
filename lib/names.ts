/**
 * The one rule for the names of pools and pipelines: 1–63 lowercase letters, digits and dashes,
 * starting with a letter or digit. The names appear in workflow ids (`pool/<name>`), lake paths
 * and Spark application names, so they never need escaping. Pure: workflow code imports it.
 */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** What a name that does not match {@link NAME_PATTERN} is told. */
export const NAME_MESSAGE = 'expected lowercase letters, digits and dashes';
