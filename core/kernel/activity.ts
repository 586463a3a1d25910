/** The calls the core makes into a plugin, as the watchdog names them. */
export const PLUGIN_METHODS = ['create', 'start', 'stop', 'flush', 'reload', 'onEvents', 'onDetections', 'onActions', 'onActionResults', 'disposer'] as const;
export type PluginMethod = (typeof PLUGIN_METHODS)[number];

/** Slots of the shared activity word array. */
const SEQ = 0;
const PLUGIN = 1;
const METHOD = 2;

/** Which plugin handler holds the event loop now, as the watchdog reports it. */
export interface CurrentHandler {
  plugin: string;
  method: PluginMethod;
}

/**
 * The plugin call that runs synchronously right now (the bus knows which handler it is in).
 * Kept in shared memory so that a thread beside the event loop can read it while a plugin
 * holds the loop: a stall report then names the plugin and the method.
 */
export class Activity {
  readonly buffer = new SharedArrayBuffer(12);
  private readonly words = new Int32Array(this.buffer);
  private readonly ids: string[] = [];
  private readonly index = new Map<string, number>();

  /** The plugin ids by index (slot PLUGIN holds index + 1; 0 is none). */
  get plugins(): readonly string[] {
    return this.ids;
  }

  /** Listener told when a plugin id is added (the probe thread learns the names). */
  onPlugin: ((id: string, index: number) => void) | undefined;

  private indexOf(id: string): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.ids.push(id);
      this.index.set(id, i);
      this.onPlugin?.(id, i);
    }
    return i;
  }

  /** Enter a plugin call; returns what was current before (give it to leave()). */
  enter(plugin: string, method: PluginMethod): number {
    const prev = Atomics.load(this.words, PLUGIN) * 64 + Atomics.load(this.words, METHOD);
    Atomics.store(this.words, PLUGIN, this.indexOf(plugin) + 1);
    Atomics.store(this.words, METHOD, PLUGIN_METHODS.indexOf(method));
    Atomics.add(this.words, SEQ, 1);
    Atomics.notify(this.words, SEQ);
    return prev;
  }

  leave(prev: number): void {
    Atomics.store(this.words, PLUGIN, Math.floor(prev / 64));
    Atomics.store(this.words, METHOD, prev % 64);
    Atomics.add(this.words, SEQ, 1);
  }

  /** Run a plugin call synchronously inside enter/leave. */
  run<T>(plugin: string, method: PluginMethod, fn: () => T): T {
    const prev = this.enter(plugin, method);
    try {
      return fn();
    } finally {
      this.leave(prev);
    }
  }

  current(): CurrentHandler | undefined {
    return decodeActivity(Atomics.load(this.words, PLUGIN), Atomics.load(this.words, METHOD), this.ids);
  }
}

export function decodeActivity(plugin: number, method: number, ids: readonly string[]): CurrentHandler | undefined {
  if (plugin === 0 || ids[plugin - 1] === undefined) return undefined;
  return { plugin: ids[plugin - 1]!, method: PLUGIN_METHODS[method] ?? 'onEvents' };
}
