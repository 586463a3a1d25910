import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../clock.js';
import { CorrelationEngine } from '../../engine.js';
import { compile, ev, failureBurst, LSASS, LSASS_RULE, T0 } from '../../test/helpers.js';
import { createStateStore, type BlockSource, type StateStore } from '../index.js';

/** A block source that counts the blocks out. */
function countingBlocks(): BlockSource & { out: number } {
  const src = {
    blockBytes: 1 << 20,
    out: 0,
    take(): Buffer {
      src.out++;
      return Buffer.allocUnsafeSlow(1 << 20);
    },
    give(): void {
      src.out--;
    },
  };
  return src;
}

/** The off-heap store over `blocks`, noting every rule state it makes. */
function recordingStore(blocks: BlockSource): StateStore & { made: string[] } {
  const inner = createStateStore(blocks);
  const made: string[] = [];
  return {
    made,
    sequence: (steps, spanMs) => {
      made.push(`sequence:${steps}:${spanMs}`);
      return inner.sequence(steps, spanMs);
    },
    count: (spanMs) => {
      made.push(`count:${spanMs}`);
      return inner.count(spanMs);
    },
  };
}

test('the engine keeps every rule\'s state in the store it is given, and a rule kept over a reload keeps its state', () => {
  const blocks = countingBlocks();
  const store = recordingStore(blocks);
  const fired: string[] = [];
  const clock = new VirtualClock(T0);
  const engine = new CorrelationEngine({ clock, onDetection: (d) => fired.push(d.rule.id), store });
  const rules = [compile(LSASS_RULE), compile(failureBurst('test.burst'))];
  engine.load(rules);
  assert.deepEqual(store.made, ['sequence:2:600000', 'count:60000']);
  assert.equal(blocks.out, 0, 'a rule takes memory only when it holds state');

  engine.onEvents([
    ev({ type: 'process.access', proc: { guid: 'g1' }, target: LSASS, access: { granted: 0x10 } }),
    ev({ type: 'logon.failure', user: { target_name: 'alice' } }),
  ]);
  assert.equal(engine.liveKeys, 2);
  assert.ok(blocks.out > 0, 'the state is in blocks of the given source');
  assert.ok(engine.stateBytes >= blocks.out * blocks.blockBytes, `state_bytes ${engine.stateBytes} counts the blocks`);

  engine.load(rules);
  assert.deepEqual(store.made, ['sequence:2:600000', 'count:60000'], 'no new state for unchanged rules');
  assert.equal(engine.liveKeys, 2, 'their partial matches are still there');
  engine.onEvents([ev({ type: 'thread.remote_create', proc: { guid: 'g1' }, target: LSASS }, 1000)]);
  assert.deepEqual(fired, ['test.lsass'], 'the kept partial match completes');

  engine.load([compile(LSASS_RULE)]);
  assert.equal(engine.liveKeys, 0, 'the removed count rule took its group with it');
});
