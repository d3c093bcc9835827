/**
 * A small strict XML tokenizer and subtree builder for the fixed Import/Export schemas (drive
 * manifest, DriveLog). It is not a general XML parser: no DTD, no namespaces, no processing
 * instructions other than the leading XML declaration. What it does not understand it refuses
 * with an XmlSyntaxError carrying the line, so the schema readers can name the place.
 *
 * It is push-based and linear: feed() takes text chunks of any size (a token may span chunks),
 * returns the complete tokens, and keeps only the unfinished tail.
 */

export type XmlEvent =
  | { type: 'open'; name: string; attrs: Record<string, string>; selfClosing: boolean; line: number }
  | { type: 'close'; name: string; line: number }
  | { type: 'text'; text: string; line: number };

export class XmlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`${message} (line ${line})`);
    this.name = 'XmlSyntaxError';
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const ATTR = /\s*([A-Za-z_][A-Za-z0-9_.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;

/** A character outside XML 1.0's Char production: C0 controls other than tab, LF and CR, U+FFFE, U+FFFF, an unpaired surrogate. */
const NOT_XML_CHAR = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Refuses text holding a character XML does not allow (which the import service's own XML reader would refuse too). */
function checkChars(s: string, line: number): void {
  const m = NOT_XML_CHAR.exec(s);
  if (m) throw new XmlSyntaxError(`character U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`, line);
}

export function decodeEntities(raw: string, line: number): string {
  checkChars(raw, line);
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&\s]*);?/g, (m, ent: string) => {
    if (!m.endsWith(';')) throw new XmlSyntaxError(`unterminated entity "${m}"`, line);
    switch (ent) {
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
    }
    const cp = /^#x([0-9a-fA-F]{1,6})$/.test(ent) ? parseInt(ent.slice(2), 16) : /^#([0-9]{1,7})$/.test(ent) ? parseInt(ent.slice(1), 10) : NaN;
    if (!Number.isFinite(cp) || cp > 0x10ffff) throw new XmlSyntaxError(`unknown entity "&${ent};"`, line);
    const c = String.fromCodePoint(cp);
    if (NOT_XML_CHAR.test(c)) throw new XmlSyntaxError(`"&${ent};" refers to a character XML does not allow`, line);
    return c;
  });
}

export function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escapeAttr(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;');
}

export class XmlTokenizer {
  private buf = '';
  private line = 1;
  private depth = 0;
  private sawRoot = false;
  private sawAnything = false;
  private readonly stack: string[] = [];

  /** Tokens completed by this chunk, in document order. */
  feed(chunk: string): XmlEvent[] {
    this.buf += chunk;
    const out: XmlEvent[] = [];
    this.drain(out, false);
    return out;
  }

  /** The remaining tokens; throws when the document is incomplete. */
  end(): XmlEvent[] {
    const out: XmlEvent[] = [];
    this.drain(out, true);
    if (this.stack.length > 0) throw new XmlSyntaxError(`document ends inside <${this.stack[this.stack.length - 1]}>`, this.line);
    if (!this.sawRoot) throw new XmlSyntaxError('document has no root element', this.line);
    return out;
  }

  private advance(text: string): void {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.line++;
  }

  private drain(out: XmlEvent[], final: boolean): void {
    let pos = 0;
    const buf = this.buf;
    while (pos < buf.length) {
      if (!this.sawAnything && pos === 0 && buf.charCodeAt(0) === 0xfeff) {
        pos = 1;
        continue;
      }
      const lt = buf.indexOf('<', pos);
      if (lt !== pos) {
        const end = lt === -1 ? buf.length : lt;
        if (lt === -1 && !final) break;
        const raw = buf.slice(pos, end);
        if (this.depth === 0) {
          if (raw.trim() !== '') throw new XmlSyntaxError('text outside the root element', this.line);
        } else {
          out.push({ type: 'text', text: decodeEntities(raw, this.line), line: this.line });
        }
        this.advance(raw);
        pos = end;
        continue;
      }
      // A markup token starting at pos.
      if (buf.startsWith('<!--', pos)) {
        const e = buf.indexOf('-->', pos + 4);
        if (e === -1) break;
        this.advance(buf.slice(pos, e + 3));
        pos = e + 3;
        continue;
      }
      if (buf.startsWith('<![CDATA[', pos)) {
        const e = buf.indexOf(']]>', pos + 9);
        if (e === -1) break;
        if (this.depth === 0) throw new XmlSyntaxError('CDATA outside the root element', this.line);
        const text = buf.slice(pos + 9, e);
        checkChars(text, this.line);
        out.push({ type: 'text', text, line: this.line });
        this.advance(text);
        pos = e + 3;
        continue;
      }
      if (buf.startsWith('<?', pos)) {
        const e = buf.indexOf('?>', pos + 2);
        if (e === -1) break;
        const decl = buf.slice(pos, e + 2);
        if (this.sawAnything || !/^<\?xml\s[^?]*\?>$/.test(decl)) throw new XmlSyntaxError('only a leading XML declaration is allowed', this.line);
        const enc = /encoding\s*=\s*["']([^"']*)["']/.exec(decl);
        if (enc && !/^utf-8$/i.test(enc[1]!)) throw new XmlSyntaxError(`encoding "${enc[1]}" is not supported; expected UTF-8`, this.line);
        this.sawAnything = true;
        this.advance(decl);
        pos = e + 2;
        continue;
      }
      if (buf.startsWith('<!', pos)) {
        if (buf.length - pos < 9 && !final) break;
        throw new XmlSyntaxError('DTDs and declarations other than comments and CDATA are not allowed', this.line);
      }
      const gt = findTagEnd(buf, pos + 1);
      if (gt < -1) throw new XmlSyntaxError('"<" inside a tag', this.line);
      if (gt === -1) {
        if (final) throw new XmlSyntaxError('unterminated tag', this.line);
        break;
      }
      const tag = buf.slice(pos, gt + 1);
      this.sawAnything = true;
      this.token(tag, out);
      this.advance(tag);
      pos = gt + 1;
    }
    this.buf = buf.slice(pos);
    if (final && this.buf.length > 0) {
      if (this.buf.trim() !== '') throw new XmlSyntaxError('incomplete markup at end of document', this.line);
      this.buf = '';
    }
  }

  private token(tag: string, out: XmlEvent[]): void {
    const line = this.line;
    if (tag.startsWith('</')) {
      const name = tag.slice(2, -1).trim();
      const top = this.stack.pop();
      if (top !== name) throw new XmlSyntaxError(top === undefined ? `unexpected </${name}>` : `</${name}> closes <${top}>`, line);
      this.depth--;
      out.push({ type: 'close', name, line });
      return;
    }
    const selfClosing = tag.endsWith('/>');
    const inner = tag.slice(1, selfClosing ? -2 : -1);
    const m = /^([^\s/>]+)/.exec(inner);
    const name = m ? m[1]! : '';
    if (!NAME.test(name)) throw new XmlSyntaxError(`bad element name "${name}"`, line);
    if (this.depth === 0 && this.sawRoot) throw new XmlSyntaxError(`second root element <${name}>`, line);
    const attrs: Record<string, string> = Object.create(null);
    let rest = inner.slice(name.length);
    ATTR.lastIndex = 0;
    let at = 0;
    for (;;) {
      ATTR.lastIndex = at;
      const a = ATTR.exec(rest);
      if (!a) break;
      const key = a[1]!;
      if (key in attrs) throw new XmlSyntaxError(`<${name}> has attribute ${key} twice`, line);
      attrs[key] = decodeEntities(a[2] ?? a[3] ?? '', line);
      at = ATTR.lastIndex;
    }
    rest = rest.slice(at);
    if (rest.trim() !== '') throw new XmlSyntaxError(`<${name}> has malformed attributes near "${rest.trim().slice(0, 40)}"`, line);
    this.sawRoot = true;
    out.push({ type: 'open', name, attrs, selfClosing, line });
    if (selfClosing) {
      out.push({ type: 'close', name, line });
    } else {
      this.stack.push(name);
      this.depth++;
    }
  }
}

/** Index of the '>' that ends the tag starting before `from`, skipping quoted attribute values. */
function findTagEnd(buf: string, from: number): number {
  let quote = '';
  for (let i = from; i < buf.length; i++) {
    const c = buf[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      return i;
    } else if (c === '<') {
      return -2 - i;
    }
  }
  return -1;
}

/** An element with its whole subtree: used for the small repeated units (one Blob, one DriveId). */
export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  /** concatenated direct text content */
  text: string;
  line: number;
}

/**
 * Builds subtrees from events. open() starts collecting at an element; push() feeds the following
 * events and returns the finished node when its closing tag arrives.
 */
export class SubtreeBuilder {
  private stack: XmlNode[] = [];

  get active(): boolean {
    return this.stack.length > 0;
  }

  push(ev: XmlEvent): XmlNode | undefined {
    if (ev.type === 'open') {
      const node: XmlNode = { name: ev.name, attrs: ev.attrs, children: [], text: '', line: ev.line };
      this.stack[this.stack.length - 1]?.children.push(node);
      this.stack.push(node);
      return undefined;
    }
    if (ev.type === 'text') {
      this.stack[this.stack.length - 1]!.text += ev.text;
      return undefined;
    }
    const done = this.stack.pop()!;
    return this.stack.length === 0 ? done : undefined;
  }
}

/** Parses a whole (small) document into one tree. */
export function parseXmlTree(text: string): XmlNode {
  const tok = new XmlTokenizer();
  const b = new SubtreeBuilder();
  let root: XmlNode | undefined;
  for (const ev of [...tok.feed(text), ...tok.end()]) {
    const done = b.push(ev);
    if (done) root = done;
  }
  return root!;
}
