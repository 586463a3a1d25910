export { Bus, type QueueOptions, type Subscription, type SubscriberSpec } from './bus.js';
export { SubscriberQueue, type BatchHandler, type FailureListener } from './subscriber-queue.js';
