/**
 * Direct extraction of a record's System fields and EventData/UserData values from the
 * compiled template and the instance values, without building an element tree. This is
 * the hot path; it applies the same rendering rules as the tree path (binxml.ts resolve +
 * record.ts buildRecord), which the tests cross-check record by record.
 */
import { K_ELEM, K_INSTANCE, K_SUBST, K_TEXT, textOf, type ChunkDecoder, type ElemNode, type Node, type SubstNode, type XElem } from './binxml.js';
import { emptySystem, flattenLeaves, isoToMs, put, type EvtxSystem } from './record.js';
import { VT, fileTimeMs, renderArray, renderScalar, systemTimeMs } from './values.js';

const L_ROOT = 0;
const L_EVENT = 1;
const L_SYSTEM = 2;
const L_EVENTDATA = 3;
const L_FLAT = 4;

export class Extractor {
  system!: EvtxSystem;
  data!: Record<string, unknown>;

  constructor(private readonly d: ChunkDecoder) {}

  run(nodes: Node[], recordId: number): void {
    this.system = emptySystem(recordId);
    this.data = {};
    this.walk(nodes, null, L_ROOT);
  }

  private walk(nodes: Node[], values: number[] | null, level: number): void {
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i] as Node;
      if (n.k === K_ELEM) this.elem(n, values, level);
      else if (n.k === K_INSTANCE) this.walk(n.template.nodes, n.values, level);
      else if (n.k === K_SUBST && values !== null) {
        const j = n.index * 3;
        if (j < values.length && values[j + 2] === VT.BinXml) {
          const off = values[j] as number;
          const nested = this.d.parseNested(off, off + (values[j + 1] as number));
          try {
            this.walk(nested, null, level);
          } finally {
            this.d.endNested();
          }
        }
      }
    }
  }

  private elem(n: ElemNode, values: number[] | null, level: number): void {
    switch (level) {
      case L_ROOT:
        this.walk(n.children, values, n.name === 'Event' ? L_EVENT : L_ROOT);
        return;
      case L_EVENT:
        if (n.name === 'System') this.walk(n.children, values, L_SYSTEM);
        else if (n.name === 'EventData') this.walk(n.children, values, L_EVENTDATA);
        else this.walk(n.children, values, L_FLAT);
        return;
      case L_SYSTEM:
        this.systemField(n, values);
        return;
      case L_EVENTDATA:
        this.dataElem(n, values);
        return;
      default: {
        // UserData and other sections: rare, so the general tree path is fine here.
        const out: (XElem | string)[] = [];
        this.d.resolveNodes([n], values, out);
        for (const e of out) if (typeof e !== 'string') flattenLeaves(e, this.data);
      }
    }
  }

  private dataElem(n: ElemNode, values: number[] | null): void {
    let key = n.key;
    if (key === undefined || key === null) {
      key = n.name;
      if (key === 'Data') {
        const nm = this.attrText(n, 'Name', values);
        if (nm !== undefined && nm !== '') key = nm;
      }
      // Cache per compiled template when the name is literal text (the usual case).
      if (n.key === undefined) n.key = isStaticName(n) ? key : null;
    }
    // Same element rules as the renderer: empty optional → absent, array → one per item.
    if (values !== null) {
      const ch = n.children;
      for (let i = 0; i < ch.length; i++) {
        const c = ch[i] as Node;
        if (c.k !== K_SUBST) continue;
        const j = c.index * 3;
        if (j >= values.length) continue;
        const type = values[j + 2] as number;
        if (c.optional && type === VT.Null) return;
        if (type & VT.ArrayFlag) {
          const items = renderArray(this.d.buf, this.d.dv, values[j] as number, values[j + 1] as number, type);
          for (const item of items) put(this.data, key, ch.length === 1 ? item : this.text(ch, values, c, item));
          return;
        }
      }
    }
    put(this.data, key, this.text(n.children, values, null, ''));
  }

  /** Text content of an element's children (nested elements contribute nothing). */
  private text(ch: Node[], values: number[] | null, arr: SubstNode | null, item: string): string {
    if (ch.length === 1) {
      const c = ch[0] as Node;
      if (c.k === K_SUBST && c !== arr) return this.substText(c, values);
      if (c.k === K_TEXT) return c.text;
    }
    let s = '';
    for (let i = 0; i < ch.length; i++) {
      const c = ch[i] as Node;
      if (c === arr) s += item;
      else if (c.k === K_TEXT) s += c.text;
      else if (c.k === K_SUBST) s += this.substText(c, values);
      else if (c.k === K_INSTANCE) s += this.text(c.template.nodes, c.values, null, '');
    }
    return s;
  }

  private substText(c: SubstNode, values: number[] | null): string {
    if (values === null) return '';
    const j = c.index * 3;
    if (j >= values.length) return '';
    const type = values[j + 2] as number;
    const off = values[j] as number;
    const size = values[j + 1] as number;
    if (type === VT.Null) return '';
    if (type === VT.BinXml || type & VT.ArrayFlag) {
      const out: (XElem | string)[] = [];
      this.d.resolveSubst(c, values, out);
      return textOf(out);
    }
    return renderScalar(this.d.buf, this.d.dv, off, size, type);
  }

  private attrText(n: ElemNode, name: string, values: number[] | null): string | undefined {
    const attrs = n.attrs;
    for (let i = 0; i < attrs.length; i++) {
      const a = attrs[i]!;
      if (a.name !== name) continue;
      const v = a.value;
      if (v.length === 1) {
        const c = v[0] as Node;
        if (c.k === K_TEXT) return c.text;
        if (c.k === K_SUBST) {
          if (values === null) return undefined;
          const j = c.index * 3;
          if (j >= values.length || values[j + 2] === VT.Null) return undefined;
          return this.substText(c, values);
        }
      }
      if (v.length === 0) return '';
      const el = this.d.resolveElem({ k: K_ELEM, name: n.name, attrs: [a], children: [] }, values, null, '');
      return el.attrs.length > 0 ? el.attrs[1] : undefined;
    }
    return undefined;
  }

  /** A numeric field: read integers straight from the value when it is a single one. */
  private num(ch: Node[], values: number[] | null): number {
    if (ch.length === 1 && values !== null) {
      const c = ch[0] as Node;
      if (c.k === K_SUBST) {
        const j = c.index * 3;
        if (j < values.length) {
          const off = values[j] as number;
          const size = values[j + 1] as number;
          const dv = this.d.dv;
          switch (values[j + 2]) {
            case VT.UInt8:
              if (size >= 1) return dv.getUint8(off);
              break;
            case VT.UInt16:
              if (size >= 2) return dv.getUint16(off, true);
              break;
            case VT.UInt32:
              if (size >= 4) return dv.getUint32(off, true);
              break;
            case VT.UInt64:
              if (size >= 8) return dv.getUint32(off + 4, true) * 4294967296 + dv.getUint32(off, true);
              break;
            default:
              break;
          }
        }
      }
    }
    const s = this.text(ch, values, null, '');
    return s === '' ? NaN : Number(s);
  }

  private systemField(n: ElemNode, values: number[] | null): void {
    const s = this.system;
    const ch = n.children;
    switch (n.name) {
      case 'Provider': {
        const nm = this.attrText(n, 'Name', values);
        if (nm !== undefined) s.Provider_Name = nm;
        const g = this.attrText(n, 'Guid', values);
        if (g !== undefined) s.Provider_Guid = g;
        const e = this.attrText(n, 'EventSourceName', values);
        if (e !== undefined) s.Provider_EventSourceName = e;
        return;
      }
      case 'EventID': {
        s.EventID = this.num(ch, values);
        const q = this.attrText(n, 'Qualifiers', values);
        if (q !== undefined && q !== '') s.EventID_Qualifiers = Number(q);
        return;
      }
      case 'Version':
        s.Version = this.num(ch, values);
        return;
      case 'Level':
        s.Level = this.num(ch, values);
        return;
      case 'Task':
        s.Task = this.num(ch, values);
        return;
      case 'Opcode':
        s.Opcode = this.num(ch, values);
        return;
      case 'Keywords':
        s.Keywords = this.text(ch, values, null, '');
        return;
      case 'TimeCreated':
        s.TimeCreated = this.timeAttr(n, values);
        return;
      case 'EventRecordID':
        s.EventRecordID = this.num(ch, values);
        return;
      case 'Correlation': {
        const a = this.attrText(n, 'ActivityID', values);
        if (a !== undefined) s.Correlation_ActivityID = a;
        const r = this.attrText(n, 'RelatedActivityID', values);
        if (r !== undefined) s.Correlation_RelatedActivityID = r;
        return;
      }
      case 'Execution': {
        const p = this.attrText(n, 'ProcessID', values);
        if (p !== undefined) s.Execution_ProcessID = p === '' ? NaN : Number(p);
        const t = this.attrText(n, 'ThreadID', values);
        if (t !== undefined) s.Execution_ThreadID = t === '' ? NaN : Number(t);
        return;
      }
      case 'Channel':
        s.Channel = this.text(ch, values, null, '');
        return;
      case 'Computer':
        s.Computer = this.text(ch, values, null, '');
        return;
      case 'Security': {
        const u = this.attrText(n, 'UserID', values);
        if (u !== undefined) s.Security_UserID = u;
        return;
      }
      default:
        return;
    }
  }

  private timeAttr(n: ElemNode, values: number[] | null): number {
    for (const a of n.attrs) {
      if (a.name !== 'SystemTime') continue;
      const c = a.value[0];
      if (a.value.length === 1 && c !== undefined && c.k === K_SUBST && values !== null) {
        const j = c.index * 3;
        if (j < values.length) {
          const type = values[j + 2];
          if (type === VT.FileTime && (values[j + 1] as number) >= 8) return fileTimeMs(this.d.dv, values[j] as number);
          if (type === VT.SystemTime && (values[j + 1] as number) >= 16) return systemTimeMs(this.d.dv, values[j] as number);
        }
      }
      const t = this.attrText(n, 'SystemTime', values);
      return t === undefined ? NaN : isoToMs(t);
    }
    return NaN;
  }
}

function isStaticName(n: ElemNode): boolean {
  if (n.name !== 'Data') return true;
  for (const a of n.attrs) {
    if (a.name === 'Name') return a.value.length === 1 && (a.value[0] as Node).k === K_TEXT;
  }
  return true;
}
