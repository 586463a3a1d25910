import { EventEmitter } from 'eventemitter3';
import type { VigilEvent } from '../events/event.js';
import type { ActionRequest, ActionResult, Detection } from '../events/detection.js';
import type { PluginCounters } from '../telemetry/counters.js';
import { SubscriberQueue, type BatchHandler, type FailureListener } from './subscriber-queue.js';

/**
 * Topics on the bus. An event's topic is its type itself (no string building per event);
 * the other channels use names no event type can have.
 */
const DETECTION = '#detection';
const ACTION_RESULT = '#action-result';
const ALL_EVENTS = '#events';
const actionTopic = (name: string) => `#action:${name}`;
const eventTopic = (type: string) => (type === '*' ? ALL_EVENTS : type);

export interface QueueOptions {
  capacity: number;
  batchSize: number;
}

export interface Subscription {
  readonly queues: readonly SubscriberQueue<unknown>[];
  /** Detach: everything handed to it from now on is discarded and counted. */
  detach(): void;
  /** Remove from routing entirely (stop). */
  unsubscribe(): void;
}

export interface SubscriberSpec {
  name: string;
  counters: PluginCounters;
  onFailure: FailureListener;
  /** Event types (`*` for all). */
  eventTypes?: readonly string[];
  onEvents?: BatchHandler<VigilEvent>;
  onDetections?: BatchHandler<Detection>;
  /** Action names this subscriber performs. */
  actions?: readonly string[];
  onActions?: BatchHandler<ActionRequest>;
  onActionResults?: BatchHandler<ActionResult>;
}

/**
 * The core bus: eventemitter3 routes by topic to per-subscriber bounded queues. The
 * emitter's listeners only enqueue (they cannot throw); handlers run later in batches inside
 * the queue, where a throwing or rejecting handler is caught and counted.
 */
export class Bus {
  private readonly ee = new EventEmitter();
  private readonly queues = new Set<SubscriberQueue<unknown>>();
  /** Queues that became full during the current publish (back-pressure for replay). */
  private pressured: SubscriberQueue<unknown>[] = [];
  private force = false;

  constructor(private readonly options: QueueOptions) {}

  subscribe(spec: SubscriberSpec): Subscription {
    const made: Array<{ topic: string; queue: SubscriberQueue<unknown>; fn: (item: unknown) => void }> = [];
    const add = <T>(topics: readonly string[], suffix: string, handler: BatchHandler<T>) => {
      const queue = new SubscriberQueue<T>(
        `${spec.name}/${suffix}`,
        handler,
        spec.counters,
        this.options.capacity,
        this.options.batchSize,
        spec.onFailure,
      ) as SubscriberQueue<unknown>;
      const fn = (item: unknown) => {
        if (!queue.push(item, this.force)) this.pressured.push(queue);
      };
      for (const topic of topics) {
        this.ee.on(topic, fn);
        made.push({ topic, queue, fn });
      }
      this.queues.add(queue);
      return queue;
    };
    const queues: SubscriberQueue<unknown>[] = [];
    if (spec.onEvents && spec.eventTypes && spec.eventTypes.length > 0) {
      const topics = spec.eventTypes.includes('*') ? [eventTopic('*')] : spec.eventTypes.map(eventTopic);
      queues.push(add(topics, 'events', spec.onEvents));
    }
    if (spec.onDetections) queues.push(add([DETECTION], 'detections', spec.onDetections));
    if (spec.onActions && spec.actions && spec.actions.length > 0) {
      queues.push(add(spec.actions.map(actionTopic), 'actions', spec.onActions));
    }
    if (spec.onActionResults) queues.push(add([ACTION_RESULT], 'action-results', spec.onActionResults));
    return {
      queues,
      detach: () => {
        for (const q of queues) {
          q.detached = true;
          q.discardAll('plugin_detached');
        }
      },
      unsubscribe: () => {
        for (const m of made) this.ee.off(m.topic, m.fn);
        for (const q of queues) this.queues.delete(q);
      },
    };
  }

  /**
   * Publish an event. Returns undefined, or (when `wait` and a queue is full) a promise that
   * resolves once every full queue has room again — replay sensors await it, live sensors
   * never pass `wait` and their overflow is dropped and counted by the full queue.
   */
  publishEvent(event: VigilEvent, wait: boolean): Promise<void> | undefined {
    this.force = wait;
    this.ee.emit(event.type, event);
    this.ee.emit(ALL_EVENTS, event);
    this.force = false;
    return this.takePressure(wait);
  }

  publishDetection(detection: Detection): void {
    this.force = true; // detections are few and precious: never dropped at the bus
    this.ee.emit(DETECTION, detection);
    this.force = false;
    this.pressured = [];
  }

  /** True when some responder performs this action. */
  hasActionHandler(action: string): boolean {
    return this.ee.listenerCount(actionTopic(action)) > 0;
  }

  publishAction(request: ActionRequest): void {
    this.force = true;
    this.ee.emit(actionTopic(request.action), request);
    this.force = false;
    this.pressured = [];
  }

  publishActionResult(result: ActionResult): void {
    this.force = true;
    this.ee.emit(ACTION_RESULT, result);
    this.force = false;
    this.pressured = [];
  }

  /** Resolves when every queue is empty and idle (stable across two turns of the loop). */
  async idle(): Promise<void> {
    for (;;) {
      let busy = false;
      for (const q of this.queues) {
        if (!q.idle) {
          busy = true;
          await q.whenIdle();
        }
      }
      if (!busy) {
        await new Promise((r) => setImmediate(r));
        let still = true;
        for (const q of this.queues) if (!q.idle) still = false;
        if (still) return;
      }
    }
  }

  /** Total items waiting in all queues. */
  get backlog(): number {
    let n = 0;
    for (const q of this.queues) n += q.length;
    return n;
  }

  private takePressure(wait: boolean): Promise<void> | undefined {
    if (this.pressured.length === 0) return undefined;
    const full = this.pressured;
    this.pressured = [];
    if (!wait) return undefined;
    if (full.length === 1) return full[0]!.whenWritable();
    return Promise.all(full.map((q) => q.whenWritable())).then(() => undefined);
  }
}
