import { AsyncLocalStorage } from 'node:async_hooks';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VigilError, describeError } from '../errors/index.js';

/**
 * What the guard needs of a supervised plugin: its id, the folder its code lives in (for
 * attribution by stack) and how to report a crash as its failure.
 */
export interface GuardedPlugin {
  readonly id: string;
  /** Folder of the plugin's code, with a trailing separator; empty when unknown. */
  readonly root: string;
  crashed(what: CrashKind, err: unknown): void;
}

/** What escaped a plugin: an uncaught exception, an unhandled rejection, a call to process.exit. */
export type CrashKind = 'uncaught-exception' | 'unhandled-rejection' | 'exit';

/** The owner of guarded plugins (a kernel): finds them and hears of what cannot be attributed. */
export interface GuardOwner {
  plugins(): readonly GuardedPlugin[];
  unattributed(what: CrashKind, err: unknown): void;
}

/**
 * The plugin on whose behalf the current code runs. The core enters it around every call it
 * makes into a plugin (create, start, stop, flush, reload, the bus handlers); timers and
 * promises a plugin schedules from there inherit it.
 */
export const pluginScope = new AsyncLocalStorage<GuardedPlugin>();

/** The plugin named by a stack: the first frame under a plugin's folder. */
export function pluginOfStack(stack: string | undefined, plugins: readonly GuardedPlugin[]): GuardedPlugin | undefined {
  if (!stack) return undefined;
  for (const line of stack.split('\n')) {
    if (!/^\s+at /.test(line)) continue;
    const m = /(file:\/\/[^\s)]+|\/[^\s)]+)(?::\d+){0,2}\)?\s*$/.exec(line);
    if (!m) continue;
    let file = m[1]!.replace(/(?::\d+){1,2}$/, '');
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    for (const p of plugins) if (p.root !== '' && file.startsWith(p.root)) return p;
  }
  return undefined;
}

/** A folder as a prefix (trailing separator), so that `/a/b` does not claim `/a/bc`. */
export function folderPrefix(dir: string): string {
  return dir.endsWith(sep) ? dir : dir + sep;
}

type ExitFn = (code?: number | string | null) => never;

/**
 * The agent's process-wide guard, installed while an agent runs: an uncaught exception or an
 * unhandled rejection is attributed to a plugin (by stack, then by plugin scope) and handled
 * as that plugin's failure, else logged and counted by the owner, and the process goes on;
 * `process.exit` called from a plugin is refused (a VIGIL_ERR_PLUGIN_EXIT failure of that
 * plugin) and exits as asked otherwise. One guard serves every owner in the process.
 */
class ProcessGuard {
  private readonly owners = new Set<GuardOwner>();
  private realExit: ExitFn | undefined;

  add(owner: GuardOwner): void {
    this.owners.add(owner);
    if (this.owners.size === 1) this.install();
  }

  remove(owner: GuardOwner): void {
    if (!this.owners.delete(owner)) return;
    if (this.owners.size === 0) this.uninstall();
  }

  get installed(): boolean {
    return this.realExit !== undefined;
  }

  /** The plugin an error or a call came from, or undefined. */
  attribute(stack: string | undefined): GuardedPlugin | undefined {
    const all = [...this.owners].flatMap((o) => o.plugins());
    return pluginOfStack(stack, all) ?? this.scoped(all);
  }

  private scoped(all: readonly GuardedPlugin[]): GuardedPlugin | undefined {
    const p = pluginScope.getStore();
    return p && all.includes(p) ? p : undefined;
  }

  private readonly onException = (err: unknown): void => this.handle('uncaught-exception', err);
  private readonly onRejection = (reason: unknown): void => this.handle('unhandled-rejection', reason);

  private handle(what: CrashKind, err: unknown): void {
    // A refused exit thrown back into the plugin was reported when it was refused.
    if (err instanceof VigilError && err.code === 'VIGIL_ERR_PLUGIN_EXIT') return;
    const p = this.attribute(err instanceof Error ? err.stack : undefined);
    if (p) {
      p.crashed(what, err);
      return;
    }
    for (const o of this.owners) o.unattributed(what, err);
  }

  private install(): void {
    process.on('uncaughtException', this.onException);
    process.on('unhandledRejection', this.onRejection);
    const realExit = process.exit.bind(process) as ExitFn;
    this.realExit = realExit;
    const guarded = (code?: number | string | null): never => {
      const p = this.attribute(new Error('process.exit').stack);
      if (!p) return realExit(code);
      const err = new VigilError('VIGIL_ERR_PLUGIN_EXIT', `plugin ${p.id} called process.exit(${code === undefined ? '' : String(code)}); refused`);
      p.crashed('exit', err);
      // The plugin's code does not go on past its exit call: it lands in the plugin's own
      // failure path (a bus handler, start(), or the uncaught-exception handler above).
      throw err;
    };
    process.exit = guarded as typeof process.exit;
  }

  private uninstall(): void {
    process.off('uncaughtException', this.onException);
    process.off('unhandledRejection', this.onRejection);
    if (this.realExit) process.exit = this.realExit as typeof process.exit;
    this.realExit = undefined;
  }
}

export const processGuard = new ProcessGuard();

/** A one-line account of an error for the log, with its stack when it has one. */
export function errorWithStack(err: unknown): string {
  return err instanceof Error && err.stack ? err.stack : describeError(err);
}
