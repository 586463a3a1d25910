/** Defaults shared by the engine and the plugin's config schema, free of code so the manifest can read them. */

/**
 * The longest stretch (ms) the engine works without giving the event loop back: one slice of
 * a batch (onEventsUntil) or of expiry (tick).
 */
export const DEFAULT_SLICE_MS = 2;
