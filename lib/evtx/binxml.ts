/**
 * Binary XML (BinXml) decoder for EVTX chunks.
 *
 * Templates are compiled once per chunk into a small node tree (cached by their chunk
 * offset); a record then only reads its substitution value descriptors and fills the
 * compiled tree in. All offsets here are relative to the start of the 64 KiB chunk, which
 * is what BinXml name and template offsets refer to.
 */
import { BinXmlError } from './errors.js';
import { VT, readUtf16, renderArray, renderScalar } from './values.js';

const T_EOF = 0x00;
const T_OPEN = 0x01;
const T_CLOSE_START = 0x02;
const T_CLOSE_EMPTY = 0x03;
const T_END = 0x04;
const T_VALUE = 0x05;
const T_ATTR = 0x06;
const T_CDATA = 0x07;
const T_CHARREF = 0x08;
const T_ENTITYREF = 0x09;
const T_PITARGET = 0x0a;
const T_PIDATA = 0x0b;
const T_TEMPLATE = 0x0c;
const T_SUBST = 0x0d;
const T_OPTSUBST = 0x0e;
const T_FRAGMENT = 0x0f;

export const K_ELEM = 0;
export const K_TEXT = 1;
export const K_SUBST = 2;
export const K_INSTANCE = 3;

export interface ElemNode {
  k: typeof K_ELEM;
  name: string;
  attrs: AttrNode[];
  children: Node[];
  /** EventData key when it is static (Data Name="…" as text), filled in lazily. */
  key?: string | null;
}
export interface AttrNode {
  name: string;
  value: Node[];
}
export interface TextNode {
  k: typeof K_TEXT;
  text: string;
}
export interface SubstNode {
  k: typeof K_SUBST;
  index: number;
  optional: boolean;
}
export interface InstanceNode {
  k: typeof K_INSTANCE;
  template: Template;
  /** Flat [offset, size, type] triples of this instance's substitution values. */
  values: number[];
}
export type Node = ElemNode | TextNode | SubstNode | InstanceNode;

export interface Template {
  offset: number;
  nodes: Node[];
}

/** Rendered element: what a record's XML looks like once values are filled in. */
export interface XElem {
  name: string;
  /** Flat name/value pairs. */
  attrs: string[];
  children: (XElem | string)[];
}

const MAX_DEPTH = 64;
/** Names and templates live after the 512-byte chunk header. */
const CHUNK_HEADER_SIZE = 512;
/** Work allowed per record (elements built + fragments parsed); stops crafted fan-out. */
const MAX_WORK = 200_000;

export class ChunkDecoder {
  buf: Uint8Array = new Uint8Array(0);
  dv: DataView = new DataView(new ArrayBuffer(0));
  private templates = new Map<number, Template>();
  private names = new Map<number, string>();
  /** Offsets of templates being compiled: a template that refers to itself is corrupt. */
  private compiling = new Set<number>();
  private pos = 0;
  private depth = 0;
  /** Nesting of BinXml values (type 0x21) being filled in, and the per-record work done. */
  private nest = 0;
  private work = 0;

  /** Point the decoder at a new chunk; caches are per chunk because offsets are. */
  reset(buf: Uint8Array): void {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.templates.clear();
    this.names.clear();
    this.compiling.clear();
  }

  /** Parse the BinXml of one record at [start, end) (templates compiled and cached). */
  parseRecord(start: number, end: number): Node[] {
    this.depth = 0;
    this.nest = 0;
    this.work = 0;
    return this.parseFragment(start, end, false);
  }

  /**
   * Parse a nested BinXml value (type 0x21) at [start, end); pair every call with
   * endNested(). Nesting depth and total work per record are bounded.
   */
  parseNested(start: number, end: number): Node[] {
    if (++this.nest > MAX_DEPTH) throw new BinXmlError(start, 'nested BinXml values too deep');
    const save = this.pos;
    const nodes = this.parseFragment(start, end, false);
    this.pos = save;
    return nodes;
  }

  endNested(): void {
    this.nest--;
  }

  /** Fill parsed nodes in to rendered elements. */
  resolve(nodes: Node[]): XElem[] {
    const out: (XElem | string)[] = [];
    this.resolveNodes(nodes, null, out);
    return out.filter((x): x is XElem => typeof x !== 'string');
  }


  // ---- reading primitives -------------------------------------------------------------

  private need(n: number, limit: number): void {
    if (this.pos + n > limit) throw new BinXmlError(this.pos, `BinXml data truncated (need ${n} bytes)`);
  }

  private u8(): number {
    return this.buf[this.pos++] as number;
  }

  private u16(): number {
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A name structure: u32 next, u16 hash, u16 char count, chars, NUL. */
  private nameAt(off: number): string {
    const cached = this.names.get(off);
    if (cached !== undefined) return cached;
    if (off + 8 > this.buf.length) throw new BinXmlError(off, `name offset 0x${off.toString(16)} outside the chunk`);
    const count = this.dv.getUint16(off + 6, true);
    if (off + 8 + count * 2 > this.buf.length) throw new BinXmlError(off, 'name runs past the chunk');
    const s = readUtf16(this.buf, off + 8, count * 2);
    this.names.set(off, s);
    return s;
  }

  /** Read a name reference at pos; skip the name body when it is stored inline. */
  private readName(limit: number): string {
    this.need(4, limit);
    const off = this.u32();
    if (off === this.pos) {
      this.need(8, limit);
      const count = this.dv.getUint16(this.pos + 6, true);
      const name = this.nameAt(off);
      this.pos += 8 + count * 2 + 2;
      if (this.pos > limit) throw new BinXmlError(off, 'inline name runs past its data');
      return name;
    }
    return this.nameAt(off);
  }

  // ---- parsing to nodes ---------------------------------------------------------------

  private parseFragment(start: number, limit: number, inTemplate: boolean): Node[] {
    if (++this.depth > MAX_DEPTH) throw new BinXmlError(start, 'BinXml nesting too deep');
    if (++this.work > MAX_WORK) throw new BinXmlError(start, 'record too complex (work limit)');
    this.pos = start;
    const nodes: Node[] = [];
    while (this.pos < limit) {
      const tok = this.buf[this.pos] as number;
      const base = tok & 0x0f;
      if (tok === T_EOF) {
        this.pos++;
        break;
      }
      if (tok === T_FRAGMENT) {
        this.need(4, limit);
        this.pos += 4;
      } else if (tok === T_TEMPLATE) {
        nodes.push(this.parseInstance(limit));
      } else if (base === T_OPEN) {
        nodes.push(this.parseElement(limit, inTemplate));
      } else {
        this.parseContentToken(tok, limit, inTemplate, nodes);
      }
    }
    this.depth--;
    return nodes;
  }

  private parseInstance(limit: number): InstanceNode {
    const at = this.pos;
    this.need(10, limit);
    this.pos += 2; // token, unknown byte
    this.pos += 4; // template identifier (also the first 4 GUID bytes)
    const defOff = this.u32();
    let template: Template;
    if (defOff === this.pos) {
      this.need(24, limit);
      const dataSize = this.dv.getUint32(defOff + 20, true);
      template = this.template(defOff, limit);
      this.pos = defOff + 24 + dataSize;
    } else {
      const save = this.pos;
      template = this.template(defOff, this.buf.length);
      this.pos = save;
    }
    this.need(4, limit);
    const count = this.u32();
    if (count * 4 > limit - this.pos) throw new BinXmlError(at, `template instance claims ${count} values`);
    const values: number[] = new Array<number>(count * 3);
    let dataOff = this.pos + count * 4;
    for (let i = 0; i < count; i++) {
      const size = this.dv.getUint16(this.pos, true);
      const type = this.buf[this.pos + 2] as number;
      this.pos += 4;
      values[i * 3] = dataOff;
      values[i * 3 + 1] = size;
      values[i * 3 + 2] = type;
      dataOff += size;
    }
    if (dataOff > limit) throw new BinXmlError(at, 'template values run past the record');
    this.pos = dataOff;
    return { k: K_INSTANCE, template, values };
  }

  private template(defOff: number, limit: number): Template {
    const cached = this.templates.get(defOff);
    if (cached) return cached;
    if (defOff + 24 > limit || defOff < 0) throw new BinXmlError(defOff, `template definition at 0x${defOff.toString(16)} outside the chunk`);
    if (this.compiling.has(defOff)) throw new BinXmlError(defOff, 'template refers to itself');
    const dataSize = this.dv.getUint32(defOff + 20, true);
    const end = defOff + 24 + dataSize;
    if (end > this.buf.length) throw new BinXmlError(defOff, 'template definition runs past the chunk');
    this.compiling.add(defOff);
    let nodes: Node[];
    try {
      nodes = this.parseFragment(defOff + 24, end, true);
    } finally {
      this.compiling.delete(defOff);
    }
    const t: Template = { offset: defOff, nodes };
    this.templates.set(defOff, t);
    return t;
  }

  private parseElement(limit: number, inTemplate: boolean): ElemNode {
    const at = this.pos;
    const tok = this.buf[at] as number;
    this.need(11, limit);
    // The 2-byte dependency identifier is absent in some writers' nested fragments: take
    // the layout whose name offset is consistent (inline right after, or an earlier name).
    const withDep = this.dv.getUint32(at + 7, true);
    if (withDep === at + 11 || (withDep >= CHUNK_HEADER_SIZE && withDep + 8 <= at)) this.pos = at + 7;
    else this.pos = at + 5;
    const name = this.readName(limit);
    const el: ElemNode = { k: K_ELEM, name, attrs: [], children: [] };
    if (tok & 0x40) {
      this.need(4, limit);
      this.pos += 4; // attribute list size
      for (;;) {
        this.need(1, limit);
        const t = this.buf[this.pos] as number;
        if ((t & 0x0f) !== T_ATTR) break;
        this.pos++;
        const aname = this.readName(limit);
        const value: Node[] = [];
        // An attribute's value is the content tokens up to the next attribute or close.
        for (;;) {
          this.need(1, limit);
          const vt = this.buf[this.pos] as number;
          const vb = vt & 0x0f;
          if (vb === T_ATTR || vt === T_CLOSE_START || vt === T_CLOSE_EMPTY || vt === T_END) break;
          this.parseContentToken(vt, limit, inTemplate, value);
        }
        el.attrs.push({ name: aname, value });
        if (!(t & 0x40)) break;
      }
    }
    this.need(1, limit);
    const close = this.u8();
    if (close === T_CLOSE_EMPTY) return el;
    if (close !== T_CLOSE_START) throw new BinXmlError(this.pos - 1, `unexpected token 0x${close.toString(16)} in element <${name}>`);
    if (++this.depth > MAX_DEPTH) throw new BinXmlError(at, 'BinXml nesting too deep');
    for (;;) {
      this.need(1, limit);
      const ct = this.buf[this.pos] as number;
      if (ct === T_END) {
        this.pos++;
        break;
      }
      if (ct === T_EOF) throw new BinXmlError(this.pos, `element <${name}> not closed`);
      if ((ct & 0x0f) === T_OPEN) el.children.push(this.parseElement(limit, inTemplate));
      else if (ct === T_TEMPLATE) el.children.push(this.parseInstance(limit));
      else this.parseContentToken(ct, limit, inTemplate, el.children);
    }
    this.depth--;
    return el;
  }

  private parseContentToken(tok: number, limit: number, inTemplate: boolean, out: Node[]): void {
    const at = this.pos;
    const base = tok & 0x0f;
    switch (base) {
      case T_VALUE: {
        this.need(4, limit);
        this.pos += 2; // token, value type (always string)
        const count = this.u16();
        this.need(count * 2, limit);
        out.push({ k: K_TEXT, text: readUtf16(this.buf, this.pos, count * 2) });
        this.pos += count * 2;
        return;
      }
      case T_SUBST:
      case T_OPTSUBST: {
        this.need(4, limit);
        this.pos++;
        const index = this.u16();
        this.pos++; // declared type; the instance's descriptor has the real one
        if (!inTemplate) throw new BinXmlError(at, 'substitution outside a template');
        out.push({ k: K_SUBST, index, optional: base === T_OPTSUBST });
        return;
      }
      case T_CDATA: {
        this.need(3, limit);
        this.pos++;
        const count = this.u16();
        this.need(count * 2, limit);
        out.push({ k: K_TEXT, text: readUtf16(this.buf, this.pos, count * 2) });
        this.pos += count * 2;
        return;
      }
      case T_CHARREF: {
        this.need(3, limit);
        this.pos++;
        out.push({ k: K_TEXT, text: String.fromCharCode(this.u16()) });
        return;
      }
      case T_ENTITYREF: {
        this.pos++;
        const name = this.readName(limit);
        out.push({ k: K_TEXT, text: entity(name) });
        return;
      }
      case T_PITARGET: {
        this.pos++;
        this.readName(limit);
        return;
      }
      case T_PIDATA: {
        this.need(3, limit);
        this.pos++;
        const count = this.u16();
        this.need(count * 2, limit);
        this.pos += count * 2;
        return;
      }
      default:
        throw new BinXmlError(at, `unknown BinXml token 0x${tok.toString(16)}`);
    }
  }

  // ---- filling templates in -----------------------------------------------------------

  resolveNodes(nodes: Node[], values: number[] | null, out: (XElem | string)[]): void {
    for (const n of nodes) {
      switch (n.k) {
        case K_ELEM:
          this.pushElem(n, values, out);
          break;
        case K_TEXT:
          out.push(n.text);
          break;
        case K_SUBST:
          this.resolveSubst(n, values, out);
          break;
        case K_INSTANCE:
          this.resolveNodes(n.template.nodes, n.values, out);
          break;
      }
    }
  }

  /**
   * Emit an element the way the Windows renderer (and evtxexport) does: an element whose
   * content holds an empty optional substitution is left out, and one whose content is an
   * array value is repeated once per item (<Data>a</Data><Data>b</Data>).
   */
  private pushElem(n: ElemNode, values: number[] | null, out: (XElem | string)[]): void {
    if (values !== null) {
      for (const c of n.children) {
        if (c.k !== K_SUBST || c.index * 3 >= values.length) continue;
        const size = values[c.index * 3 + 1] as number;
        const type = values[c.index * 3 + 2] as number;
        if (c.optional && type === VT.Null) return;
        if (type & VT.ArrayFlag) {
          const items = renderArray(this.buf, this.dv, values[c.index * 3] as number, size, type);
          for (const item of items) {
            const el = this.resolveElem(n, values, c, item);
            out.push(el);
          }
          return;
        }
      }
    }
    out.push(this.resolveElem(n, values, null, ''));
  }

  resolveElem(n: ElemNode, values: number[] | null, arraySubst: SubstNode | null, item: string): XElem {
    if (++this.work > MAX_WORK) throw new BinXmlError(0, 'record too complex (work limit)');
    const attrs: string[] = [];
    for (const a of n.attrs) {
      const parts: (XElem | string)[] = [];
      let present = a.value.length === 0;
      for (const v of a.value) {
        if (v.k === K_SUBST) {
          if (this.resolveSubst(v, values, parts)) present = true;
        } else if (v.k === K_TEXT) {
          present = true;
          parts.push(v.text);
        } else {
          present = true;
          this.resolveNodes([v], values, parts);
        }
      }
      // An attribute whose only content is an empty optional substitution is left out,
      // as the Windows renderer does (e.g. <Correlation/> without ActivityID).
      if (!present) continue;
      attrs.push(a.name, textOf(parts));
    }
    const children: (XElem | string)[] = [];
    if (arraySubst === null) this.resolveNodes(n.children, values, children);
    else for (const c of n.children) {
      if (c === arraySubst) children.push(item);
      else this.resolveNodes([c], values, children);
    }
    return { name: n.name, attrs, children };
  }

  /** Push the rendering of a substitution; false when the value is empty/null. */
  resolveSubst(n: SubstNode, values: number[] | null, out: (XElem | string)[]): boolean {
    if (values === null || n.index * 3 >= values.length) return false;
    const off = values[n.index * 3] as number;
    const size = values[n.index * 3 + 1] as number;
    const type = values[n.index * 3 + 2] as number;
    if (type === VT.Null) return false;
    if (type === VT.BinXml) {
      const nodes = this.parseNested(off, off + size);
      try {
        this.resolveNodes(nodes, null, out);
      } finally {
        this.endNested();
      }
      return true;
    }
    if (type & VT.ArrayFlag) {
      // Arrays outside element content (attributes, mixed text) are joined.
      const items = renderArray(this.buf, this.dv, off, size, type);
      for (let i = 0; i < items.length; i++) {
        if (i > 0) out.push(ARRAY_SEP);
        out.push(items[i] as string);
      }
      return true;
    }
    out.push(renderScalar(this.buf, this.dv, off, size, type));
    return true;
  }
}

/** Separator between array items in a rendered value. */
export const ARRAY_SEP = ', ';

function entity(name: string): string {
  switch (name) {
    case 'amp':
      return '&';
    case 'lt':
      return '<';
    case 'gt':
      return '>';
    case 'quot':
      return '"';
    case 'apos':
      return "'";
    default:
      return `&${name};`;
  }
}

/** Concatenated text content of rendered children (nested elements contribute nothing). */
export function textOf(parts: (XElem | string)[]): string {
  if (parts.length === 1) {
    const p = parts[0];
    return typeof p === 'string' ? p : '';
  }
  let s = '';
  for (const p of parts) if (typeof p === 'string') s += p;
  return s;
}
