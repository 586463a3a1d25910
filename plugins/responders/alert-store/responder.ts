import type { ActionResult, Detection, ResponderContext, ResponderInstance } from '../../../core/index.js';
import type { AlertStoreConfig } from './config.js';
import { errorKind } from './errors.js';
import { AlertStore, type PruneResult } from './store.js';

const DAY_MS = 24 * 60 * 60 * 1000;

type State = 'created' | 'running' | 'stopped';

/** Keeps every detection, its evidence and the results of actions taken on it in SQLite. */
export class AlertStoreResponder implements ResponderInstance {
  private readonly config: AlertStoreConfig;
  /** Absolute database path (a relative config path is resolved by the core: against the config file's folder). */
  readonly path: string;
  private state: State = 'created';
  private store: AlertStore | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Row count kept in memory so max_rows is enforced after inserts without a COUNT query. */
  private rows = 0;

  constructor(
    private readonly ctx: ResponderContext<AlertStoreConfig>,
    private readonly now: () => number = Date.now,
  ) {
    this.config = ctx.config; // validated, with defaults, and frozen by the core
    this.path = ctx.resolvePath(this.config.path);
  }

  async start(): Promise<void> {
    if (this.state !== 'created') return;
    let store: AlertStore;
    try {
      store = AlertStore.open(this.path, this.ctx.files);
    } catch (err) {
      this.ctx.counters.error('start', errorKind(err));
      throw err;
    }
    this.ctx.defer(() => store.close());
    this.store = store;
    this.state = 'running';
    this.rows = store.count();
    this.prune();
    const timer = setInterval(() => this.prune(), this.config.prune_interval_seconds * 1000);
    // Retention must never keep the agent (or a one-shot replay) alive on its own.
    timer.unref();
    this.ctx.defer(() => clearInterval(timer));
    this.timer = timer;
  }

  onDetections(batch: readonly Detection[]): void {
    const { counters, logger } = this.ctx;
    const store = this.store;
    if (this.state !== 'running' || !store) {
      counters.discard('plugin_not_running', batch.length);
      return;
    }
    try {
      const r = store.storeDetections(batch);
      counters.emitted += r.stored;
      this.rows += r.stored;
      if (r.duplicates > 0) counters.discard('duplicate_id', r.duplicates, true);
      for (const kind of r.unserializable) {
        counters.error('process', `serialize:${kind}`);
        counters.discard('unserializable', 1);
      }
    } catch (err) {
      counters.error('send', `store:${errorKind(err)}`);
      counters.discard('store_error', batch.length);
      logger.warn({ path: this.path, err: errorKind(err), detections: batch.length }, 'alert store failed to store a batch');
    }
    counters.set('stored_detections', this.rows);
    if (this.config.max_rows > 0 && this.rows > this.config.max_rows) this.prune();
  }

  /** Outcomes of actions, stored beside their detection. */
  onActionResults(batch: readonly ActionResult[]): void {
    const { counters, logger } = this.ctx;
    counters.add('action_results_received', batch.length);
    const store = this.store;
    if (this.state !== 'running' || !store) {
      counters.discard('plugin_not_running', batch.length);
      return;
    }
    try {
      counters.add('action_results_stored', store.storeActionResults(batch));
    } catch (err) {
      counters.error('send', `store_results:${errorKind(err)}`);
      counters.discard('store_error', batch.length);
      logger.warn({ path: this.path, err: errorKind(err), results: batch.length }, 'alert store failed to store action results');
    }
  }

  /** Applies retention now; what it removes is counted as intended discards. */
  prune(): PruneResult {
    const store = this.store;
    if (this.state !== 'running' || !store) return { byAge: 0, byRows: 0, journalByAge: 0 };
    const { counters, logger } = this.ctx;
    try {
      const r = store.prune({
        ...(this.config.retention_days > 0 ? { raisedBefore: this.now() - this.config.retention_days * DAY_MS } : {}),
        ...(this.config.max_rows > 0 ? { maxRows: this.config.max_rows } : {}),
      });
      if (r.byAge > 0) counters.discard('retention_days', r.byAge, true);
      if (r.byRows > 0) counters.discard('max_rows', r.byRows, true);
      if (r.journalByAge > 0) counters.discard('journal_retention_days', r.journalByAge, true);
      this.rows = store.count();
      counters.set('stored_detections', this.rows);
      return r;
    } catch (err) {
      counters.error('process', `prune:${errorKind(err)}`);
      logger.warn({ path: this.path, err: errorKind(err) }, 'alert store retention failed');
      return { byAge: 0, byRows: 0, journalByAge: 0 };
    }
  }

  /** Every batch is committed when `onDetections` returns; this folds the WAL into the file. */
  flush(): Promise<void> {
    const store = this.store;
    if (store?.open) {
      try {
        store.checkpoint();
      } catch (err) {
        this.ctx.counters.error('send', `flush:${errorKind(err)}`);
      }
    }
    return Promise.resolve();
  }

  stop(): Promise<void> {
    if (this.state === 'stopped') return Promise.resolve();
    this.state = 'stopped';
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.store?.close();
    this.store = undefined;
    return Promise.resolve();
  }
}
