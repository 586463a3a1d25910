/**
 * Rendered Windows event XML (what EvtRender, `wevtutil qe /f:xml` and Event Viewer's
 * "Save as XML" give) → WindowsRecord.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { windowsRecordFromEventObject, WindowsRecordError } from './event-object.js';
import type { WindowsRecord } from './normalize.js';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  attributesGroupName: '#attributes',
  textNodeName: '#text',
  // Values stay text exactly as rendered: command lines keep their spaces, ids their zeros.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // Numeric character references (&#13;) appear in rendered event text.
  htmlEntities: true,
  isArray: (name) => name === 'Event' || name === 'Data',
});

/**
 * Parse exactly one `<Event>` element. Throws WindowsRecordError naming the line and column
 * of malformed XML, or why the event is not readable.
 */
export function parseOneEventXml(xml: string): WindowsRecord {
  const valid = XMLValidator.validate(xml, { allowBooleanAttributes: true });
  if (valid !== true) {
    const e = valid.err;
    throw new WindowsRecordError(`malformed XML at line ${e.line}, column ${e.col}: ${e.msg}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml) as Record<string, unknown>;
  } catch (err) {
    // The parser refuses some names (e.g. `__proto__` elements); that is bad input, not a bug.
    throw new WindowsRecordError(`unreadable XML: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const events = doc['Event'];
  if (!Array.isArray(events) || events.length !== 1) throw new WindowsRecordError('expected one <Event> element');
  return windowsRecordFromEventObject(events[0]);
}

/**
 * Parse every `<Event>` element of a text (several in a row, or inside `<Events>`). Throws
 * WindowsRecordError for the first damaged one; stream readers use EventXmlSplitter and
 * parseOneEventXml to go on past damaged events instead.
 */
export function parseEventXml(xml: string): WindowsRecord[] {
  const splitter = new EventXmlSplitter(Number.MAX_SAFE_INTEGER);
  const chunks = splitter.push(xml);
  const rest = splitter.end();
  if (rest !== undefined) throw new WindowsRecordError(`unterminated <Event> at line ${rest.line}`);
  return chunks.map((c) => {
    try {
      return parseOneEventXml(c.xml);
    } catch (err) {
      if (err instanceof WindowsRecordError) throw new WindowsRecordError(`event at line ${c.line}: ${err.message}`);
      throw err;
    }
  });
}

/** One `<Event>…</Event>` cut from a stream, with where it started. */
export interface EventXmlChunk {
  xml: string;
  /** Character offset of `<Event` from the start of the stream. */
  offset: number;
  /** 1-based line of `<Event`. */
  line: number;
}

function isNameEnd(c: number): boolean {
  // `<Event` followed by whitespace, `>` or `/` (not `<Events` or `<EventData`).
  return c === 32 || c === 62 || c === 47 || c === 10 || c === 13 || c === 9;
}

/**
 * Cuts a text stream into `<Event>` elements without parsing it, so that one damaged event
 * costs only itself and memory stays bounded by the largest event. `</Event>` cannot occur
 * inside well-formed event text (`<` is escaped there).
 */
export class EventXmlSplitter {
  private buf = '';
  /** Stream offset of buf[0]. */
  private base = 0;
  /** Line number at buf[0]. */
  private lineAtBase = 1;

  constructor(private readonly maxEventChars = 64 * 1024 * 1024) {}

  private advance(to: number): void {
    let i = this.buf.indexOf('\n');
    while (i >= 0 && i < to) {
      this.lineAtBase++;
      i = this.buf.indexOf('\n', i + 1);
    }
    this.buf = this.buf.slice(to);
    this.base += to;
  }

  /** Add text; returns the complete events it closes. Throws WindowsRecordError on an oversized event. */
  push(text: string): EventXmlChunk[] {
    this.buf += text;
    const out: EventXmlChunk[] = [];
    for (;;) {
      let start = this.buf.indexOf('<Event');
      while (start >= 0 && start + 6 < this.buf.length && !isNameEnd(this.buf.charCodeAt(start + 6))) {
        start = this.buf.indexOf('<Event', start + 6);
      }
      if (start < 0) {
        // Keep a possible partial `<Event` at the end.
        this.advance(Math.max(0, this.buf.length - 6));
        return out;
      }
      if (start + 6 >= this.buf.length) {
        this.advance(start);
        return out;
      }
      const end = this.buf.indexOf('</Event>', start);
      if (end < 0) {
        this.advance(start);
        if (this.buf.length > this.maxEventChars) {
          const offset = this.base;
          const line = this.lineAtBase;
          this.advance(this.buf.length);
          throw new WindowsRecordError(`event at line ${line} (offset ${offset}) exceeds ${this.maxEventChars} characters`);
        }
        return out;
      }
      this.advance(start);
      const stop = end - start + 8;
      out.push({ xml: this.buf.slice(0, stop), offset: this.base, line: this.lineAtBase });
      this.advance(stop);
    }
  }

  /** End of stream: an unterminated `<Event` left over, if any. */
  end(): EventXmlChunk | undefined {
    const start = this.buf.indexOf('<Event');
    if (start < 0 || (start + 6 < this.buf.length && !isNameEnd(this.buf.charCodeAt(start + 6)))) return undefined;
    this.advance(start);
    const chunk = { xml: this.buf, offset: this.base, line: this.lineAtBase };
    this.advance(this.buf.length);
    return chunk;
  }
}
