/**
 * Compact binary form of an event (any tree of plain objects, arrays, strings, numbers,
 * booleans and null) for the off-heap sequence store. It replaces JSON text there because
 * JSON.stringify / JSON.parse cost about two microseconds per kept event; this walks the
 * object once, writes field names of the known event groups as one byte, short ASCII
 * strings byte by byte and numbers as int32 / float64.
 *
 * Layout (tag first):
 *   0 null, 1 false, 2 true, 3 int32 LE, 4 float64 LE, 5 ASCII string, 6 UTF-8 string,
 *   7 object: pairs of (name, value), then a 0 byte; a name is a byte 2..255 (index + 2 in
 *     FIELD_NAMES) or 1 followed by a string,
 *   8 array: element count, then the elements,
 *   9 a string of the StringTable: its index,
 *   0x80 | n: the integer n (0..127).
 * Lengths and counts are unsigned LEB128.
 *
 * Semantics follow JSON where JSON is lossless (an `undefined` field is left out, an
 * `undefined` array element becomes null); values JSON would change or reject (bigint,
 * functions, symbols, class instances, null-prototype objects, a `__proto__` field, strings
 * with a lone surrogate, cycles)
 * make `encode` return -1 so the caller keeps the object itself. NaN, ±Infinity and -0 are
 * kept exactly (float64).
 */

/** Field names of the event envelope and groups (core/events/event.ts) plus common raw names. */
const FIELD_NAMES: readonly string[] = [
  // envelope and groups
  'id', 'seq', 'type', 'time', 'received', 'source', 'host', 'proc', 'parent', 'target', 'thread',
  'access', 'file', 'image', 'reg', 'net', 'dns', 'user', 'logon', 'service', 'task', 'script',
  'pipe', 'wmi', 'scan', 'message', 'raw',
  // group fields
  'pid', 'guid', 'start_time', 'name', 'cmdline', 'cwd', 'ppid', 'parent_guid', 'uid', 'integrity',
  'session_id', 'hashes', 'original_file_name', 'product', 'company', 'description', 'file_version',
  'md5', 'sha1', 'sha256', 'imphash', 'start_address', 'start_module', 'start_function', 'granted',
  'call_trace', 'source_thread_id', 'path', 'creation_time', 'previous_creation_time', 'contents',
  'is_executable', 'flags', 'mode', 'signed', 'signature', 'signature_status', 'key', 'value', 'data',
  'operation', 'new_name', 'protocol', 'initiated', 'src_ip', 'src_port', 'src_host', 'dst_ip',
  'dst_port', 'dst_host', 'ipv6', 'query', 'status', 'answers', 'domain', 'sid', 'logon_id',
  'target_name', 'target_domain', 'target_sid', 'auth_package', 'workstation', 'sub_status',
  'privileges', 'start_type', 'account', 'content', 'text', 'block_id', 'payload', 'context',
  'namespace', 'consumer', 'filter', 'destination', 'scanner', 'verdict', 'findings', 'reason',
  // frequent Windows EventData / System names
  'EventID', 'Channel', 'Provider_Name', 'Computer', 'Image', 'GrantedAccess', 'TargetImage',
  'SourceImage', 'SourceProcessGuid', 'TargetProcessGuid', 'SourceProcessId', 'TargetProcessId',
  'CallTrace', 'CommandLine', 'ParentImage', 'ParentCommandLine', 'ParentProcessGuid',
  'ParentProcessId', 'ProcessGuid', 'ProcessId', 'User', 'UtcTime', 'RuleName', 'Hashes',
  'IntegrityLevel', 'LogonId', 'LogonGuid', 'TerminalSessionId', 'CurrentDirectory',
  'OriginalFileName', 'Product', 'Company', 'Description', 'FileVersion', 'TargetFilename',
  'TargetObject', 'Details', 'EventType', 'SubjectUserName', 'SubjectDomainName',
  'SubjectUserSid', 'SubjectLogonId', 'TargetUserName', 'TargetDomainName', 'TargetUserSid',
  'TargetLogonId', 'LogonType', 'IpAddress', 'IpPort', 'WorkstationName', 'ProcessName',
  'ServiceName', 'ImagePath', 'TaskName', 'ScriptBlockText', 'QueryName', 'DestinationIp',
  'DestinationPort', 'SourceIp', 'SourcePort', 'Protocol', 'PipeName', 'StartAddress',
  'StartModule', 'StartFunction', 'NewThreadId', 'SourceThreadId', 'Signed', 'Signature',
  'SignatureStatus', 'ImageLoaded', 'Level', 'Task', 'Keywords', 'Version', 'Opcode',
  'EventRecordID', 'Security_UserID', 'Execution_ProcessID', 'Execution_ThreadID',
];
if (FIELD_NAMES.length > 254) throw new Error('event-codec: too many field names for one byte');
const FIELD_CODE = new Map<string, number>(FIELD_NAMES.map((n, i) => [n, i + 2]));

const T_NULL = 0;
const T_FALSE = 1;
const T_TRUE = 2;
const T_I32 = 3;
const T_F64 = 4;
const T_ASCII = 5;
const T_UTF8 = 6;
/** Tag of a UTF-8 string (for callers writing a string of known byte length themselves). */
export const STR_UTF8 = T_UTF8;
const T_OBJ = 7;
const T_ARR = 8;
const T_REF = 9;
const T_SMALL = 0x80;
const NAME_LITERAL = 1;
const OBJ_END = 0;
const MAX_DEPTH = 64;

/** String#isWellFormed (ES2024; present in every Node this runs on). */
interface WellFormedCheck {
  isWellFormed(): boolean;
}

/** Thrown inside the encoder for values it does not take; never escapes `encode`. */
class Unencodable extends Error {}
const UNENCODABLE = new Unencodable('unencodable');
/** Thrown inside encodeInto when the target has no room left; never escapes it. */
const NO_ROOM = new Unencodable('no room');

/** Strings longer than this are never interned. */
const MAX_INTERNED_LENGTH = 256;
/** Field positions the encoder tracks for recurring values (a hash of the path, modulo this). */
const SLOTS = 1024;

/**
 * Strings that recur in kept events (event types, images, host and user names, raw field
 * names), stored once for the life of a store: the encoder writes their index and the decoder
 * hands back the same string object (no copy, no garbage). Bounded: when full, strings are
 * written out again.
 */
export class StringTable {
  readonly strings: string[] = [];

  constructor(private readonly capacity = 65_536) {}

  get size(): number {
    return this.strings.length;
  }

  /** Add `s`; its index, or -1 when the table is full or `s` would not survive as UTF-8. */
  add(s: string): number {
    if (this.strings.length >= this.capacity || !(s as unknown as WellFormedCheck).isWellFormed()) return -1;
    return this.strings.push(s) - 1;
  }
}

/**
 * Writes values into a reused, growing scratch buffer. With a StringTable, a string goes into
 * the table when the same field (by path) held the same string in the previous event encoded:
 * values that recur (types, images, host names) are interned after one repeat, unique ones
 * (GUIDs, command lines) cost one comparison and never enter. No hashing of strings at all.
 */
export class EventEncoder {
  /** Per field slot: the string it held last and that string's table index (-1: none). */
  private readonly lastStr: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly lastIdx = new Int32Array(SLOTS).fill(-1);
  /** Per object slot and position: the field name seen there last and its code (0: a literal). */
  private readonly lastName: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly lastCode = new Uint8Array(SLOTS);

  constructor(private readonly table: StringTable | null = null) {}

  private buf: Buffer = Buffer.allocUnsafeSlow(4096);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private p = 0;

  /** The bytes of the last `encode`, valid until the next call. */
  get bytes(): Buffer {
    return this.buf;
  }

  /** Encode `v`; returns the byte length, or -1 when `v` holds something it does not take. */
  encode(v: unknown): number {
    this.p = 0;
    try {
      this.value(v, 0, 0);
    } catch (e) {
      if (e === UNENCODABLE || e instanceof RangeError) return -1; // RangeError: cycle or too deep
      throw e;
    }
    return this.p;
  }

  /**
   * Encode `v` straight into `target` from `at`, not past `end` (no copy afterwards). Returns
   * the byte length; -1 when `v` holds something the codec does not take; -2 when it does
   * not fit (encode it with `encode` instead: strings it met are then seen a second time,
   * which may intern some, harmlessly).
   */
  encodeInto(v: unknown, target: Buffer, view: DataView, at: number, end: number): number {
    const own = this.buf;
    const ownView = this.view;
    this.buf = target;
    this.view = view;
    this.p = at;
    this.limit = Math.min(end, target.length);
    this.into = true;
    try {
      this.value(v, 0, 0);
      return this.p - at;
    } catch (e) {
      if (e === NO_ROOM) return -2;
      if (e === UNENCODABLE || e instanceof RangeError) return -1; // RangeError: cycle or too deep
      throw e;
    } finally {
      this.buf = own;
      this.view = ownView;
      this.limit = own.length;
      this.into = false;
    }
  }

  /** Where writing must stop: the end of the encoder's own buffer (which grows), or encodeInto's `end`. */
  private limit = 4096;
  private into = false;

  private ensure(n: number): void {
    if (this.p + n <= this.limit) return;
    // ensure asks for the most a write can take, so near the end of a target this may refuse
    // a value that would just have fit: encodeInto's caller then encodes it the usual way.
    if (this.into) throw NO_ROOM;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.p + n + 1024));
    this.buf.copy(next, 0, 0, this.p);
    this.buf = next;
    this.limit = next.length;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  private uint(n: number): void {
    this.ensure(5);
    const b = this.buf;
    while (n >= 0x80) {
      b[this.p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    b[this.p++] = n;
  }

  private str(s: string, slot: number): void {
    const len = s.length;
    if (this.table !== null && len > 0 && len <= MAX_INTERNED_LENGTH) {
      if (this.lastStr[slot] === s) {
        let i = this.lastIdx[slot] as number;
        if (i < 0) this.lastIdx[slot] = i = this.table.add(s);
        if (i >= 0) {
          this.ensure(6);
          this.buf[this.p++] = T_REF;
          this.uint(i);
          return;
        }
      } else {
        this.lastStr[slot] = s;
        this.lastIdx[slot] = -1;
      }
    }
    this.ensure(len * 3 + 6);
    const b = this.buf;
    // Optimistically ASCII: tag and one-byte length, then the characters.
    if (len < 0x80) {
      const start = this.p;
      let p = start + 2;
      let i = 0;
      for (; i < len; i++) {
        const ch = s.charCodeAt(i);
        if (ch >= 0x80) break;
        b[p++] = ch;
      }
      if (i === len) {
        b[start] = T_ASCII;
        b[start + 1] = len;
        this.p = p;
        return;
      }
      this.p = start;
    }
    // A lone surrogate would turn into U+FFFD in UTF-8: keep such an event as an object.
    if (!(s as unknown as WellFormedCheck).isWellFormed()) throw UNENCODABLE;
    // Long or non-ASCII: the byte length is not known before writing, so write first at the
    // widest length prefix's distance and move the bytes if the prefix turns out shorter.
    const start = this.p;
    const body = start + 6;
    const n = b.write(s, body, 'utf8');
    let ascii = n === len;
    if (ascii) for (let i = body; i < body + n; i++) if ((b[i] as number) >= 0x80) ascii = false;
    b[start] = ascii ? T_ASCII : T_UTF8;
    this.p = start + 1;
    this.uint(n);
    if (this.p !== body) b.copy(b, this.p, body, body + n);
    this.p += n;
  }

  /** A number (room for 9 bytes ensured by the caller). */
  private num(v: number): void {
    const b = this.buf;
    // An int32 that is not -0 (1 / -0 is -Infinity).
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      if (v >= 0 && v < 0x80) b[this.p++] = T_SMALL | v;
      else {
        b[this.p] = T_I32;
        this.view.setInt32(this.p + 1, v, true);
        this.p += 5;
      }
    } else {
      b[this.p] = T_F64;
      this.view.setFloat64(this.p + 1, v, true);
      this.p += 9;
    }
  }

  /** `slot`: the field position (for recurring strings). */
  private value(v: unknown, depth: number, slot: number): void {
    switch (typeof v) {
      case 'string':
        this.str(v, slot);
        return;
      case 'number':
        this.ensure(9);
        this.num(v);
        return;
      case 'boolean':
        this.ensure(1);
        this.buf[this.p++] = v ? T_TRUE : T_FALSE;
        return;
      case 'object':
        break;
      default:
        throw UNENCODABLE;
    }
    if (v === null) {
      this.ensure(1);
      this.buf[this.p++] = T_NULL;
      return;
    }
    if (depth >= MAX_DEPTH) throw UNENCODABLE;
    if (Array.isArray(v)) {
      if (Object.getPrototypeOf(v) !== Array.prototype) throw UNENCODABLE;
      this.ensure(1);
      this.buf[this.p++] = T_ARR;
      const n = v.length;
      this.uint(n);
      for (let i = 0; i < n; i++) {
        const e: unknown = v[i];
        if (e === undefined) {
          this.ensure(1);
          this.buf[this.p++] = T_NULL;
        } else this.value(e, depth + 1, (slot * 31 + 3) & (SLOTS - 1));
      }
      return;
    }
    if (Object.getPrototypeOf(v) !== Object.prototype) throw UNENCODABLE;
    this.ensure(1);
    this.buf[this.p++] = T_OBJ;
    const o = v as Record<string, unknown>;
    let pos = 0;
    for (const k in o) {
      const x = o[k];
      if (x === undefined) continue;
      // Events of one kind list the same names in the same order: a name compare instead of a lookup.
      const at = (slot * 31 + 5 * pos) & (SLOTS - 1);
      let code: number | undefined;
      if (this.lastName[at] === k) code = (this.lastCode[at] as number) || undefined;
      else {
        code = FIELD_CODE.get(k);
        this.lastName[at] = k;
        this.lastCode[at] = code ?? 0;
      }
      let child: number;
      if (code !== undefined) {
        // The name's byte and, for a number, the value.
        this.ensure(10);
        this.buf[this.p++] = code;
        child = (slot * 31 + code) & (SLOTS - 1);
      } else {
        if (k === '__proto__') throw UNENCODABLE;
        this.ensure(1);
        this.buf[this.p++] = NAME_LITERAL;
        // Names outside the table (raw fields) come in the same order event after event.
        this.str(k, (slot * 31 + 257 + 2 * pos) & (SLOTS - 1));
        child = (slot * 31 + 258 + 2 * pos) & (SLOTS - 1);
        this.ensure(9);
      }
      // Strings and numbers written here: most fields are, and a call per field adds up.
      if (typeof x === 'string') this.str(x, child);
      else if (typeof x === 'number') this.num(x);
      else this.value(x, depth + 1, child);
      pos++;
    }
    this.ensure(1);
    this.buf[this.p++] = OBJ_END;
  }
}

/** Node's Buffer has these (undocumented, but what `toString` dispatches to); skipping the dispatch matters for short strings. */
interface SliceBuffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}
const HAS_SLICES = typeof (Buffer.prototype as Partial<SliceBuffer>).latin1Slice === 'function' && typeof (Buffer.prototype as Partial<SliceBuffer>).utf8Slice === 'function';

/** Distinct object shapes (field-code sequences) a decoder makes constructors for. */
const MAX_SHAPES = 1024;
/** Objects with more fields than this are built field by field. */
const MAX_SHAPE_FIELDS = 32;

/** A constructor for objects of one shape: the field codes, and a function building the object from values on the stack. */
interface Shape {
  readonly codes: Uint8Array;
  readonly make: (vals: unknown[], base: number) => Record<string, unknown>;
}

/**
 * A function returning an object literal with the given fields, in order, from `vals[base…]`.
 * Objects made by one literal share one hidden class from the start, where adding the fields
 * one by one (a keyed store per field, on a call site that sees every shape) costs several
 * times more. The names come from FIELD_NAMES only, quoted by JSON.stringify.
 */
function shapeMaker(codes: Uint8Array): Shape['make'] {
  const fields = Array.from(codes, (c, i) => `${JSON.stringify(FIELD_NAMES[c - 2])}: v[b + ${i}]`);
  return new Function('v', 'b', `return { ${fields.join(', ')} };`) as Shape['make'];
}

/** Reads values written by EventEncoder out of a buffer, from `pos` on. */
export class EventDecoder {
  pos = 0;
  private buf: Buffer = Buffer.alloc(0);
  /** Values of the objects being decoded (nested objects stack above their parent's). */
  private readonly vals: unknown[] = [];
  private readonly codes = new Uint8Array(MAX_SHAPE_FIELDS * MAX_DEPTH + 1);
  private sp = 0;
  /** Shapes by a hash of their codes (a colliding shape is built field by field). */
  private readonly shapes = new Map<number, Shape>();

  constructor(private readonly table: StringTable | null = null) {}

  /** Decode one value at `off` of `buf`; `pos` is then just past it. */
  decode(buf: Buffer, off: number): unknown {
    this.buf = buf;
    this.pos = off;
    this.sp = 0;
    return this.value();
  }

  private object(): Record<string, unknown> {
    const b = this.buf;
    const base = this.sp;
    const vals = this.vals;
    const codes = this.codes;
    let h = 0;
    for (;;) {
      const c = b[this.pos++] as number;
      if (c === OBJ_END) break;
      if (c === NAME_LITERAL || this.sp - base >= MAX_SHAPE_FIELDS) {
        // A name outside the table, or a wide object: field by field from here on.
        this.pos--;
        return this.slowObject(base, this.sp - base, true);
      }
      codes[this.sp] = c;
      h = (Math.imul(h, 31) + c) | 0;
      const at = this.sp++;
      vals[at] = this.value();
    }
    const n = this.sp - base;
    this.sp = base;
    const key = (h ^ Math.imul(n, 0x9e3779b1)) | 0;
    let shape = this.shapes.get(key);
    if (shape === undefined) {
      if (this.shapes.size >= MAX_SHAPES) return this.slowObject(base, n, false);
      shape = { codes: codes.slice(base, base + n), make: shapeMaker(codes.slice(base, base + n)) };
      this.shapes.set(key, shape);
    }
    const sc = shape.codes;
    if (sc.length !== n) return this.slowObject(base, n, false);
    for (let i = 0; i < n; i++) if (sc[i] !== codes[base + i]) return this.slowObject(base, n, false);
    const o = shape.make(vals, base);
    for (let i = base; i < base + n; i++) vals[i] = undefined;
    return o;
  }

  /**
   * An object built field by field: the first `done` fields (codes and values already on the
   * stack from `base`), then, when `more`, the rest read from the buffer up to the object's end.
   */
  private slowObject(base: number, done: number, more: boolean): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < done; i++) {
      o[FIELD_NAMES[(this.codes[base + i] as number) - 2] as string] = this.vals[base + i];
      this.vals[base + i] = undefined;
    }
    this.sp = base;
    if (!more) return o;
    const b = this.buf;
    for (;;) {
      const c = b[this.pos++] as number;
      if (c === OBJ_END) return o;
      const k = c === NAME_LITERAL ? this.str(b[this.pos++] as number) : (FIELD_NAMES[c - 2] as string);
      o[k] = this.value();
    }
  }

  /** A tagged, length-prefixed string at `off`; `pos` is then past it. */
  string(buf: Buffer, off: number): string {
    this.buf = buf;
    this.pos = off;
    return this.str(this.buf[this.pos++] as number);
  }

  private uint(): number {
    const b = this.buf;
    let n = 0;
    let shift = 0;
    for (;;) {
      const x = b[this.pos++] as number;
      n += (x & 0x7f) * 2 ** shift;
      if (x < 0x80) return n;
      shift += 7;
    }
  }

  private str(tag: number): string {
    const n = this.uint();
    if (tag === T_REF) {
      const r = this.table?.strings[n];
      if (r === undefined) throw new Error(`event-codec: string ${n} is not in the table (byte ${this.pos})`);
      return r;
    }
    const b = this.buf;
    const s = this.pos;
    this.pos = s + n;
    if (tag === T_ASCII) {
      // Short strings in one call (a string per character costs more); longer ones natively.
      switch (n) {
        case 0:
          return '';
        case 1:
          return String.fromCharCode(b[s] as number);
        case 2:
          return String.fromCharCode(b[s] as number, b[s + 1] as number);
        case 3:
          return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number);
        case 4:
          return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number);
        case 5:
          return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number);
        case 6:
          return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number, b[s + 5] as number);
        case 7:
          return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number, b[s + 5] as number, b[s + 6] as number);
        case 8:
          return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number, b[s + 5] as number, b[s + 6] as number, b[s + 7] as number);
        default:
          return HAS_SLICES ? (b as SliceBuffer).latin1Slice(s, s + n) : b.toString('latin1', s, s + n);
      }
    }
    return HAS_SLICES ? (b as SliceBuffer).utf8Slice(s, s + n) : b.toString('utf8', s, s + n);
  }

  private value(): unknown {
    const b = this.buf;
    const tag = b[this.pos++] as number;
    if (tag >= T_SMALL) return tag & 0x7f;
    switch (tag) {
      case T_NULL:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_I32: {
        const v = b.readInt32LE(this.pos);
        this.pos += 4;
        return v;
      }
      case T_F64: {
        const v = b.readDoubleLE(this.pos);
        this.pos += 8;
        return v;
      }
      case T_ASCII:
      case T_UTF8:
      case T_REF:
        return this.str(tag);
      case T_ARR: {
        const n = this.uint();
        const a: unknown[] = new Array<unknown>(n);
        for (let i = 0; i < n; i++) a[i] = this.value();
        return a;
      }
      case T_OBJ:
        return this.object();
      default:
        throw new Error(`event-codec: bad tag ${tag} at byte ${this.pos - 1}`);
    }
  }
}
