/**
 * The worker task module (piscina), registered with the core pool by the responder's
 * start(): exports `memory` (task scanner.memory) and `file` (task scanner.file). Rules are
 * compiled once per worker thread, cached by the hash of engine + sources.
 *
 * libyara-wasm does not free what each call allocates. A worker counts its wasm scan calls
 * and, once past `recycleWasmAfter`, retires at the start of its next scan task: it exits
 * with RECYCLE_EXIT_CODE before doing any work, piscina replaces the thread, and the
 * responder runs that task again. (Exiting after a result instead would race piscina, which
 * waits for the next task synchronously once a result is posted.)
 */
import { compileRules, type YaraRules } from './engines.js';
import { RECYCLE_EXIT_CODE, scanFile, scanMemory, type FileTask, type MemoryTask, type RuleSetRef, type TaskOutput } from './scans.js';

/** Compiled rule sets kept per thread; a worker rarely sees more than one or two. */
const MAX_COMPILED = 8;
const compiled = new Map<string, Promise<YaraRules>>();
let wasmCalls = 0;

function retireIfSpent(limit: number): void {
  if (limit > 0 && wasmCalls >= limit) process.exit(RECYCLE_EXIT_CODE);
}

/** The compiled rules of a set (none when the set is empty), counting wasm scan calls. */
async function rulesFor(ref: RuleSetRef): Promise<YaraRules | undefined> {
  if (ref.sources.length === 0) return undefined;
  let p = compiled.get(ref.hash);
  if (!p) {
    p = compileRules(ref.engine, [...ref.sources]);
    compiled.set(ref.hash, p);
    // A failed compile is not kept: the next task reports the reason again.
    p.catch(() => compiled.delete(ref.hash));
    if (compiled.size > MAX_COMPILED) {
      const oldest = compiled.keys().next().value;
      if (oldest !== undefined) compiled.delete(oldest);
    }
  }
  const rules = await p;
  if (rules.engine !== 'libyara-wasm') return rules;
  return {
    engine: rules.engine,
    scan(data) {
      wasmCalls++;
      return rules.scan(data);
    },
  };
}

export async function memory(task: MemoryTask): Promise<TaskOutput> {
  retireIfSpent(task.recycleWasmAfter);
  return { scan: await scanMemory(task, await rulesFor(task.rules)) };
}

export async function file(task: FileTask): Promise<TaskOutput> {
  retireIfSpent(task.recycleWasmAfter);
  return { scan: await scanFile(task, await rulesFor(task.rules)) };
}

/** How many wasm scan calls this thread has made (tests read it through a task). */
export function wasmCallCount(): number {
  return wasmCalls;
}
