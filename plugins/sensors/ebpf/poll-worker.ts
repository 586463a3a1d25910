/**
 * The poll thread: opens, loads and attaches the BPF object through libbpf, then polls the
 * ring buffer. libbpf calls the record callback synchronously inside ring_buffer__poll, so
 * the loop blocks this thread, never the agent's event loop. Each record is decoded from the
 * read-only view at once and batches are posted to the main thread. The main thread asks the
 * loop to end through a shared flag (a message could not be read while the loop runs).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { bindLibbpf, type BpfLink, type BpfObject, type Libbpf, type RingBuffer } from '../../../driver/ffi/linux/libbpf.js';
import { decodeRecord, STAT_SLOTS, sumPerCpu, type KernelRecord, type KernelStats, type StatName } from './decode.js';
import type { EbpfErrorCode } from './errors.js';

export interface PollWorkerData {
  readonly objectPath: string;
  readonly ringBufferBytes: number;
  readonly ignorePids: readonly number[];
  /** When not empty: only children of these pids are reported (key 0 turns the filter on). */
  readonly focusParents: readonly number[];
  /** Watched path prefixes (UTF-8, at most MAX_FILE_PREFIXES of MAX_FILE_PREFIX_BYTES). */
  readonly filePrefixes: readonly string[];
  readonly pollTimeoutMs: number;
  readonly maxBatch: number;
  /** Int32Array over it: [0] = 1 asks the loop to end. */
  readonly stop: SharedArrayBuffer;
}

export type PollMessage =
  | { t: 'ready'; programs: { name: string; section: string }[] }
  | { t: 'error'; code: EbpfErrorCode; message: string; errno: number }
  | { t: 'records'; records: KernelRecord[] }
  | { t: 'stats'; stats: KernelStats; decodeErrors: number; lastDecodeError: string }
  | { t: 'closed' };

const EINTR = 4;
const EPERM = 1;
const STATS_EVERY_MS = 500;

class Failure extends Error {
  constructor(
    readonly code: EbpfErrorCode,
    message: string,
    readonly errno: number,
  ) {
    super(message);
  }
}

function post(msg: PollMessage): void {
  parentPort?.postMessage(msg);
}

function readStats(bpf: Libbpf, fd: number, cpus: number): KernelStats {
  const key = new Uint8Array(4);
  const value = new Uint8Array(8 * cpus);
  const out = {} as KernelStats;
  for (const [name, slot] of Object.entries(STAT_SLOTS) as [StatName, number][]) {
    new DataView(key.buffer).setUint32(0, slot, true);
    const r = bpf.mapLookup(fd, key, value);
    out[name] = r === 0 ? sumPerCpu(value, cpus) : 0;
  }
  return out;
}

function run(bpf: Libbpf, data: PollWorkerData): void {
  const stop = new Int32Array(data.stop);
  let obj: BpfObject | null = null;
  const links: BpfLink[] = [];
  let rb: RingBuffer | null = null;
  try {
    obj = bpf.openFile(data.objectPath);
    if (obj === null) {
      const e = bpf.errno();
      throw new Failure('VIGIL_ERR_EBPF_OBJECT', `cannot open ${data.objectPath} (errno ${e})`, e);
    }
    const events = bpf.findMap(obj, 'vigil_events');
    const statsMap = bpf.findMap(obj, 'vigil_stats');
    const ignore = bpf.findMap(obj, 'vigil_ignore');
    const prefixes = bpf.findMap(obj, 'vigil_prefixes');
    if (events === null || statsMap === null || ignore === null || prefixes === null) {
      throw new Failure('VIGIL_ERR_EBPF_OBJECT', `${data.objectPath} lacks the vigil_events, vigil_stats, vigil_ignore or vigil_prefixes map`, 0);
    }
    const sized = bpf.setMaxEntries(events, data.ringBufferBytes);
    if (sized < 0) throw new Failure('VIGIL_ERR_EBPF_CONFIG', `ring buffer of ${data.ringBufferBytes} bytes refused (errno ${-sized})`, -sized);
    const loaded = bpf.load(obj);
    if (loaded < 0) {
      const e = -loaded;
      throw new Failure(
        e === EPERM ? 'VIGIL_ERR_EBPF_PRIVILEGE' : 'VIGIL_ERR_EBPF_LOAD',
        `the kernel refused ${data.objectPath} (errno ${e}${e === EPERM ? ', operation not permitted' : ''}; libbpf printed the verifier log on stderr)`,
        e,
      );
    }
    const ignoreFd = bpf.mapFd(ignore);
    for (const pid of data.ignorePids) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, pid, true);
      const r = bpf.mapUpdate(ignoreFd, key, Uint8Array.of(1), 0);
      if (r < 0) throw new Failure('VIGIL_ERR_EBPF_LOAD', `cannot fill the ignore map with pid ${pid} (errno ${-r})`, -r);
    }
    if (data.focusParents.length > 0) {
      const focus = bpf.findMap(obj, 'vigil_focus');
      if (focus === null) throw new Failure('VIGIL_ERR_EBPF_OBJECT', `${data.objectPath} lacks the vigil_focus map`, 0);
      const focusFd = bpf.mapFd(focus);
      for (const pid of [0, ...data.focusParents]) {
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, pid, true);
        const r = bpf.mapUpdate(focusFd, key, Uint8Array.of(1), 0);
        if (r < 0) throw new Failure('VIGIL_ERR_EBPF_LOAD', `cannot fill the focus map with pid ${pid} (errno ${-r})`, -r);
      }
    }
    const prefixFd = bpf.mapFd(prefixes);
    data.filePrefixes.forEach((prefix, i) => {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, i, true);
      const bytes = new TextEncoder().encode(prefix);
      const value = new Uint8Array(4 + 64);
      new DataView(value.buffer).setUint32(0, bytes.length, true);
      value.set(bytes, 4);
      const r = bpf.mapUpdate(prefixFd, key, value, 0);
      if (r < 0) throw new Failure('VIGIL_ERR_EBPF_LOAD', `cannot fill the prefix map with ${JSON.stringify(prefix)} (errno ${-r})`, -r);
    });
    const programs: { name: string; section: string }[] = [];
    for (const prog of bpf.programs(obj)) {
      const name = bpf.programName(prog);
      const section = bpf.programSection(prog);
      const link = bpf.attach(prog);
      if (link === null) {
        const e = bpf.errno();
        throw new Failure('VIGIL_ERR_EBPF_ATTACH', `cannot attach ${name} (${section}): errno ${e}`, e);
      }
      links.push(link);
      programs.push({ name, section });
    }

    let batch: KernelRecord[] = [];
    let decodeErrors = 0;
    let lastDecodeError = '';
    const flush = (): void => {
      if (batch.length === 0) return;
      post({ t: 'records', records: batch });
      batch = [];
    };
    rb = bpf.ringBufferNew(bpf.mapFd(events), (view) => {
      try {
        batch.push(decodeRecord(view));
      } catch (err) {
        decodeErrors++;
        lastDecodeError = err instanceof Error ? err.message : String(err);
      }
      if (batch.length >= data.maxBatch) flush();
    });
    if (rb === null) {
      const e = bpf.errno();
      throw new Failure('VIGIL_ERR_EBPF_LOAD', `ring_buffer__new failed (errno ${e})`, e);
    }
    post({ t: 'ready', programs });

    const statsFd = bpf.mapFd(statsMap);
    const cpus = bpf.possibleCpus();
    let lastStats = 0;
    const postStats = (): void => {
      post({ t: 'stats', stats: readStats(bpf, statsFd, cpus), decodeErrors, lastDecodeError });
    };
    while (Atomics.load(stop, 0) === 0) {
      const n = bpf.ringBufferPoll(rb, data.pollTimeoutMs);
      if (n < 0 && n !== -EINTR) throw new Failure('VIGIL_ERR_EBPF_POLL', `ring_buffer__poll failed (errno ${-n})`, -n);
      flush();
      const now = Date.now();
      if (now - lastStats >= STATS_EVERY_MS) {
        lastStats = now;
        postStats();
      }
    }
    // Drain what the kernel wrote before the links go, so the final stats match the records.
    for (const link of links.splice(0)) bpf.destroyLink(link);
    while (bpf.ringBufferPoll(rb, 0) > 0) flush();
    flush();
    postStats();
  } finally {
    if (rb !== null) bpf.freeRingBuffer(rb);
    for (const link of links) bpf.destroyLink(link);
    if (obj !== null) bpf.close(obj);
  }
}

async function main(): Promise<void> {
  const data = workerData as PollWorkerData;
  let bpf: Libbpf;
  try {
    bpf = await bindLibbpf();
  } catch (err) {
    post({ t: 'error', code: 'VIGIL_ERR_EBPF_LIBBPF', message: `cannot load libbpf.so.1: ${err instanceof Error ? err.message : String(err)}`, errno: 0 });
    return;
  }
  try {
    run(bpf, data);
  } catch (err) {
    if (err instanceof Failure) post({ t: 'error', code: err.code, message: err.message, errno: err.errno });
    else throw err;
  }
  post({ t: 'closed' });
}

await main();
