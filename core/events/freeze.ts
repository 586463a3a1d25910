import type { ProcessInfo, VigilEvent } from './event.js';

/** Freeze an event or detection and the objects inside it (events are immutable on the bus). */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  if (Array.isArray(value)) {
    for (const v of value) deepFreeze(v);
  } else {
    for (const k in value) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== null && typeof v === 'object') deepFreeze(v);
    }
  }
  return value;
}

const freezeFlat = (v: object | undefined): void => {
  if (v !== undefined && v !== null && !Object.isFrozen(v)) Object.freeze(v);
};
const freezeDeep = (v: object | undefined): void => {
  if (v !== undefined && v !== null && !Object.isFrozen(v)) deepFreeze(v);
};

/** A process group: flat but for its hashes. */
const freezeProcess = (p: ProcessInfo | undefined): void => {
  if (p === undefined || p === null || Object.isFrozen(p)) return;
  if (p.hashes) Object.freeze(p.hashes);
  Object.freeze(p);
};

/**
 * Freeze a stamped event: the envelope and each payload group. Cheaper than deepFreeze on
 * the hot path because the shape is known: groups that may hold nested objects (hashes,
 * raw source fields, findings) are walked, the flat ones are frozen directly.
 */
export function freezeEvent(e: VigilEvent): VigilEvent {
  freezeProcess(e.proc);
  freezeProcess(e.parent);
  freezeProcess(e.target);
  freezeFlat(e.thread);
  freezeFlat(e.access);
  freezeDeep(e.file);
  freezeDeep(e.image);
  freezeFlat(e.reg);
  freezeFlat(e.net);
  freezeFlat(e.dns);
  freezeFlat(e.user);
  freezeFlat(e.logon);
  freezeFlat(e.service);
  freezeFlat(e.task);
  freezeFlat(e.script);
  freezeFlat(e.pipe);
  freezeFlat(e.wmi);
  freezeDeep(e.scan);
  freezeDeep(e.raw);
  freezeFlat(e.host);
  return Object.freeze(e);
}
