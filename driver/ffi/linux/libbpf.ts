/**
 * libbpf bindings (Linux, `libbpf.so.1`, libbpf ≥ 1.0 error semantics: a failed call that
 * returns a pointer returns NULL and sets errno; one that returns int returns -errno).
 *
 * koffi is loaded when the binding is asked for, not when this module is imported, like the
 * libc binding. `ring_buffer__poll` runs the record callback synchronously on the calling
 * thread, and libbpf maps the ring buffer's data pages read-only: the callback must only read
 * the record (a write crashes the process) and must not keep the view past its return.
 */

/** Opaque libbpf handles (koffi external pointers). */
export type BpfObject = { readonly __brand: 'bpf_object' };
export type BpfProgram = { readonly __brand: 'bpf_program' };
export type BpfMap = { readonly __brand: 'bpf_map' };
export type BpfLink = { readonly __brand: 'bpf_link' };
export type RingBuffer = { readonly __brand: 'ring_buffer' };

/** Called for each record; `data` is read-only native memory, valid only during the call. */
export type RingBufferRecord = (data: DataView) => void;

export interface Libbpf {
  /** NULL (with errno) when the file cannot be opened or parsed. */
  openFile(path: string): BpfObject | null;
  /** 0 or -errno (the verifier's log goes to stderr through libbpf's default printer). */
  load(obj: BpfObject): number;
  close(obj: BpfObject): void;
  findProgram(obj: BpfObject, name: string): BpfProgram | null;
  /** Every program of the object, in section order. */
  programs(obj: BpfObject): BpfProgram[];
  programName(prog: BpfProgram): string;
  /** The program's section name (`tp_btf/sched_process_exec`). */
  programSection(prog: BpfProgram): string;
  /** NULL (with errno) when the attach failed. */
  attach(prog: BpfProgram): BpfLink | null;
  destroyLink(link: BpfLink): number;
  findMap(obj: BpfObject, name: string): BpfMap | null;
  /** Before load: resize a map (ring buffer bytes, a power of two multiple of the page size). */
  setMaxEntries(map: BpfMap, entries: number): number;
  mapFd(map: BpfMap): number;
  /** 0 or -errno. */
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number): number;
  /** 0 or -errno; `value` receives the element (per-CPU maps: one slot per possible CPU, 8-byte aligned). */
  mapLookup(fd: number, key: Uint8Array, value: Uint8Array): number;
  /** The number of possible CPUs (the length of a per-CPU map's value array). */
  possibleCpus(): number;
  /** NULL (with errno) on failure. The callback stays registered until `freeRingBuffer`. */
  ringBufferNew(mapFd: number, onRecord: RingBufferRecord): RingBuffer | null;
  /** Records consumed, or -errno (-EINTR when a signal interrupted the wait). */
  ringBufferPoll(rb: RingBuffer, timeoutMs: number): number;
  freeRingBuffer(rb: RingBuffer): void;
  /** errno of the last failed call on this thread. */
  errno(): number;
}

let bound: Promise<Libbpf> | undefined;

/**
 * Bind libbpf.so.1 (once per thread: koffi's type names are global, a second bind would fail
 * with "Duplicate type name"); rejects when koffi or the library cannot be loaded (with the
 * reason), and a failed bind is retried by the next caller.
 */
export function bindLibbpf(): Promise<Libbpf> {
  if (bound === undefined) {
    bound = bind();
    bound.catch(() => (bound = undefined));
  }
  return bound;
}

async function bind(): Promise<Libbpf> {
  const { default: koffi } = await import('koffi');
  const lib = koffi.load('libbpf.so.1');
  koffi.opaque('bpf_object');
  koffi.opaque('bpf_program');
  koffi.opaque('bpf_map');
  koffi.opaque('bpf_link');
  koffi.opaque('ring_buffer');
  const sampleFn = koffi.proto('int vigil_ring_buffer_sample_fn(void *ctx, void *data, size_t size)');

  const openFile = lib.func('bpf_object *bpf_object__open_file(const char *path, void *opts)');
  const load = lib.func('int bpf_object__load(bpf_object *obj)');
  const close = lib.func('void bpf_object__close(bpf_object *obj)');
  const findProgram = lib.func('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)');
  const nextProgram = lib.func('bpf_program *bpf_object__next_program(bpf_object *obj, bpf_program *prev)');
  const programName = lib.func('const char *bpf_program__name(bpf_program *prog)');
  const programSection = lib.func('const char *bpf_program__section_name(bpf_program *prog)');
  const attach = lib.func('bpf_link *bpf_program__attach(bpf_program *prog)');
  const destroyLink = lib.func('int bpf_link__destroy(bpf_link *link)');
  const findMap = lib.func('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)');
  const setMaxEntries = lib.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t max_entries)');
  const mapFd = lib.func('int bpf_map__fd(bpf_map *map)');
  const mapUpdate = lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)');
  const mapLookup = lib.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)');
  const possibleCpus = lib.func('int libbpf_num_possible_cpus(void)');
  const ringBufferNew = lib.func(
    'ring_buffer *ring_buffer__new(int map_fd, vigil_ring_buffer_sample_fn *sample_cb, void *ctx, void *opts)',
  );
  const ringBufferPoll = lib.func('int ring_buffer__poll(ring_buffer *rb, int timeout_ms)');
  const ringBufferFree = lib.func('void ring_buffer__free(ring_buffer *rb)');

  const callbacks = new Map<RingBuffer, unknown>();

  return {
    openFile: (path) => openFile(path, null) as BpfObject | null,
    load: (obj) => load(obj) as number,
    close: (obj) => close(obj),
    findProgram: (obj, name) => findProgram(obj, name) as BpfProgram | null,
    programs: (obj) => {
      const out: BpfProgram[] = [];
      let p = nextProgram(obj, null) as BpfProgram | null;
      while (p !== null) {
        out.push(p);
        p = nextProgram(obj, p) as BpfProgram | null;
      }
      return out;
    },
    programName: (prog) => programName(prog) as string,
    programSection: (prog) => programSection(prog) as string,
    attach: (prog) => attach(prog) as BpfLink | null,
    destroyLink: (link) => destroyLink(link) as number,
    findMap: (obj, name) => findMap(obj, name) as BpfMap | null,
    setMaxEntries: (map, entries) => setMaxEntries(map, entries) as number,
    mapFd: (map) => mapFd(map) as number,
    mapUpdate: (fd, key, value, flags) => mapUpdate(fd, key, value, flags) as number,
    mapLookup: (fd, key, value) => mapLookup(fd, key, value) as number,
    possibleCpus: () => possibleCpus() as number,
    ringBufferNew: (fd, onRecord) => {
      const cb = koffi.register((_ctx: unknown, data: unknown, size: number | bigint): number => {
        onRecord(new DataView(koffi.view(data, Number(size))));
        return 0;
      }, koffi.pointer(sampleFn));
      const rb = ringBufferNew(fd, cb, null, null) as RingBuffer | null;
      if (rb === null) {
        koffi.unregister(cb);
        return null;
      }
      callbacks.set(rb, cb);
      return rb;
    },
    ringBufferPoll: (rb, timeoutMs) => ringBufferPoll(rb, timeoutMs) as number,
    freeRingBuffer: (rb) => {
      ringBufferFree(rb);
      const cb = callbacks.get(rb);
      callbacks.delete(rb);
      if (cb !== undefined) koffi.unregister(cb as bigint);
    },
    errno: () => koffi.errno(),
  };
}
