import {
  descendants,
  type FakeNode,
  isElement,
  isEnabled,
  isVisible,
  normalizeText,
  textContent,
} from './fake-dom.js';

/*
 * The selector subset the fake page understands, chosen from what login and check hooks use:
 * - CSS: type, `*`, `#id`, `.class`, `[attr]`, `[attr=v]` (also `^=`, `$=`, `*=`, `~=`, `|=` and an `i` flag),
 *   descendant and `>` combinators, selector lists, and the pseudo-classes `:visible`, `:has-text()`,
 *   `:text()`, `:text-is()`, `:not()`, `:checked`, `:disabled`, `:enabled`, `:first-child`, `:last-child`;
 * - Playwright engines: `css=`, `text=` (lax, `"quoted"` strict, `/regex/`), `id=`, and `>>` chaining.
 * Anything else throws at once, naming the selector, rather than silently matching nothing.
 */

type AttrOp = '=' | '^=' | '$=' | '*=' | '~=' | '|=';

interface AttrSelector {
  readonly name: string;
  readonly op?: AttrOp;
  readonly value?: string;
  readonly insensitive: boolean;
}

type Pseudo =
  | { readonly kind: 'visible' | 'checked' | 'disabled' | 'enabled' | 'first-child' | 'last-child' }
  | { readonly kind: 'has-text' | 'text'; readonly matcher: TextMatcher }
  | { readonly kind: 'not'; readonly list: readonly Complex[] };

interface Compound {
  readonly tag?: string;
  readonly ids: readonly string[];
  readonly classes: readonly string[];
  readonly attrs: readonly AttrSelector[];
  readonly pseudos: readonly Pseudo[];
}

interface Complex {
  /** Compounds left to right. */
  readonly compounds: readonly Compound[];
  /** `combinators[i]` joins `compounds[i]` and `compounds[i + 1]`. */
  readonly combinators: readonly ('descendant' | 'child')[];
}

type TextMatcher = (text: string) => boolean;

type Part =
  | { readonly kind: 'css'; readonly list: readonly Complex[] }
  | { readonly kind: 'text'; readonly matcher: TextMatcher };

/** A parsed selector: parts joined by `>>`, each searched inside the matches of the previous one. */
export interface ParsedSelector {
  readonly source: string;
  readonly parts: readonly Part[];
}

const cache = new Map<string, ParsedSelector>();

/** Parses (and caches) a selector; throws a clear error for syntax the fake does not support. */
export function parseSelector(selector: string): ParsedSelector {
  const hit = cache.get(selector);
  if (hit) return hit;
  const parts = splitChain(selector).map((raw) => parsePart(raw, selector));
  if (parts.length === 0) throw unsupported(selector, 'empty selector');
  const parsed = { source: selector, parts };
  if (cache.size > 500) cache.clear();
  cache.set(selector, parsed);
  return parsed;
}

/** Every element under `scope` matching `selector`, in document order, without duplicates. */
export function querySelectorAll(scope: FakeNode, selector: ParsedSelector): FakeNode[] {
  let scopes = [scope];
  for (const part of selector.parts) {
    const found = new Set<FakeNode>();
    for (const s of scopes) for (const el of matchPart(s, part)) found.add(el);
    scopes = documentOrder(scope, found);
  }
  return scopes;
}

function documentOrder(scope: FakeNode, set: Set<FakeNode>): FakeNode[] {
  if (set.size <= 1) return [...set];
  let root = scope;
  while (root.parent) root = root.parent;
  return descendants(root).filter((el) => set.has(el));
}

function matchPart(scope: FakeNode, part: Part): FakeNode[] {
  const candidates = descendants(scope);
  if (part.kind === 'css') return candidates.filter((el) => part.list.some((c) => matchesComplex(el, c)));
  // Like Playwright's text engine: the deepest elements whose text matches.
  const matching = candidates.filter((el) => part.matcher(normalizeText(textContent(el))));
  const set = new Set(matching);
  return matching.filter((el) => !el.children.some((child) => set.has(child)));
}

function matchesComplex(el: FakeNode, complex: Complex): boolean {
  const match = (node: FakeNode, index: number): boolean => {
    const compound = complex.compounds[index];
    if (!compound || !matchesCompound(node, compound)) return false;
    if (index === 0) return true;
    const combinator = complex.combinators[index - 1];
    if (combinator === 'child') {
      const parent = node.parent;
      return parent !== undefined && isElement(parent) && match(parent, index - 1);
    }
    for (let a = node.parent; a && isElement(a); a = a.parent) if (match(a, index - 1)) return true;
    return false;
  };
  return match(el, complex.compounds.length - 1);
}

function matchesCompound(el: FakeNode, c: Compound): boolean {
  if (c.tag !== undefined && c.tag !== '*' && el.tag !== c.tag) return false;
  for (const id of c.ids) if (el.attrs.id !== id) return false;
  if (c.classes.length > 0) {
    const classes = (el.attrs.class ?? '').split(/\s+/);
    for (const cls of c.classes) if (!classes.includes(cls)) return false;
  }
  for (const a of c.attrs) if (!matchesAttr(el, a)) return false;
  for (const p of c.pseudos) if (!matchesPseudo(el, p)) return false;
  return true;
}

function matchesAttr(el: FakeNode, a: AttrSelector): boolean {
  const raw = el.attrs[a.name];
  if (raw === undefined) return false;
  if (a.op === undefined || a.value === undefined) return true;
  const actual = a.insensitive ? raw.toLowerCase() : raw;
  const wanted = a.insensitive ? a.value.toLowerCase() : a.value;
  switch (a.op) {
    case '=':
      return actual === wanted;
    case '^=':
      return wanted !== '' && actual.startsWith(wanted);
    case '$=':
      return wanted !== '' && actual.endsWith(wanted);
    case '*=':
      return wanted !== '' && actual.includes(wanted);
    case '~=':
      return actual.split(/\s+/).includes(wanted);
    case '|=':
      return actual === wanted || actual.startsWith(`${wanted}-`);
  }
}

function matchesPseudo(el: FakeNode, p: Pseudo): boolean {
  switch (p.kind) {
    case 'visible':
      return isVisible(el);
    case 'checked':
      return el.checked;
    case 'disabled':
      return !isEnabled(el);
    case 'enabled':
      return isEnabled(el);
    case 'first-child':
      return el.parent?.children.filter(isElement)[0] === el;
    case 'last-child':
      return el.parent?.children.filter(isElement).at(-1) === el;
    case 'has-text':
      return p.matcher(normalizeText(textContent(el)));
    case 'text':
      return (
        p.matcher(normalizeText(textContent(el))) &&
        !el.children.some((child) => isElement(child) && p.matcher(normalizeText(textContent(child))))
      );
    case 'not':
      return !p.list.some((c) => matchesComplex(el, c));
  }
}

/** Splits on top-level `>>`, outside quotes, brackets and parentheses. */
function splitChain(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const ch = selector[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === '>' && selector[i + 1] === '>' && depth === 0) {
      parts.push(selector.slice(start, i).trim());
      start = i + 2;
      i++;
    }
  }
  parts.push(selector.slice(start).trim());
  return parts.filter((p) => p !== '');
}

function parsePart(raw: string, source: string): Part {
  const engine = /^([a-zA-Z_-]+)\s*=/.exec(raw);
  if (engine?.[1] && !raw.startsWith('[')) {
    const name = engine[1].toLowerCase();
    const body = raw.slice(engine[0].length).trim();
    if (name === 'css') return { kind: 'css', list: new CssParser(body, source).parseList() };
    if (name === 'text') return { kind: 'text', matcher: textMatcher(body, source) };
    if (name === 'id') return { kind: 'css', list: [idOnly(unquote(body))] };
    throw unsupported(source, `the "${name}=" engine`);
  }
  if (raw.startsWith('"') || raw.startsWith("'")) return { kind: 'text', matcher: textMatcher(raw, source) };
  if (raw.startsWith('//') || raw.startsWith('..')) throw unsupported(source, 'XPath');
  return { kind: 'css', list: new CssParser(raw, source).parseList() };
}

function idOnly(id: string): Complex {
  return { compounds: [{ ids: [id], classes: [], attrs: [], pseudos: [] }], combinators: [] };
}

function unquote(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t.at(-1) === t[0]) {
    return t.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return t;
}

/** Playwright's text semantics: `/re/flags`, `"exact"` (case-sensitive, whole text), else lax substring. */
function textMatcher(body: string, source: string): TextMatcher {
  const t = body.trim();
  const re = /^\/(.*)\/([a-z]*)$/s.exec(t);
  if (re) {
    let regex: RegExp;
    try {
      regex = new RegExp(re[1] ?? '', re[2]);
    } catch {
      throw unsupported(source, 'an invalid regular expression');
    }
    return (text) => {
      regex.lastIndex = 0;
      return regex.test(text);
    };
  }
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t.at(-1) === t[0]) return exactMatcher(unquote(t));
  return laxMatcher(t);
}

function exactMatcher(value: string): TextMatcher {
  const exact = normalizeText(value);
  return (text) => text === exact;
}

function laxMatcher(value: string): TextMatcher {
  const lax = normalizeText(value).toLowerCase();
  return (text) => text.toLowerCase().includes(lax);
}

function unsupported(selector: string, what: string): Error {
  return new Error(
    `FakePage does not support selector ${JSON.stringify(selector)} (${what}). ` +
      'Supported: CSS type/#id/.class/[attr] with descendant and ">" combinators, :visible, :has-text(), ' +
      ':text(), :not(), text=, css=, id= and ">>" chaining.',
  );
}

const IDENT = /[A-Za-z0-9_\u00a0-\uffff-]/;

class CssParser {
  #i = 0;

  constructor(
    readonly text: string,
    readonly source: string,
  ) {}

  parseList(): Complex[] {
    const list = this.#list();
    this.#ws();
    if (this.#i < this.text.length) throw this.#error(`unexpected "${this.text[this.#i]}"`);
    return list;
  }

  #list(): Complex[] {
    const list: Complex[] = [];
    for (;;) {
      this.#ws();
      list.push(this.#complex());
      this.#ws();
      if (this.#peek() !== ',') return list;
      this.#i++;
    }
  }

  #complex(): Complex {
    const compounds: Compound[] = [this.#compound()];
    const combinators: ('descendant' | 'child')[] = [];
    for (;;) {
      const hadSpace = this.#ws();
      const ch = this.#peek();
      if (ch === '>') {
        this.#i++;
        this.#ws();
        combinators.push('child');
      } else if (ch === '+' || ch === '~') {
        throw this.#error(`the "${ch}" combinator`);
      } else if (hadSpace && ch !== undefined && ch !== ',' && ch !== ')') {
        combinators.push('descendant');
      } else {
        return { compounds, combinators };
      }
      compounds.push(this.#compound());
    }
  }

  #compound(): Compound {
    let tag: string | undefined;
    const ids: string[] = [];
    const classes: string[] = [];
    const attrs: AttrSelector[] = [];
    const pseudos: Pseudo[] = [];
    if (this.#peek() === '*') {
      this.#i++;
      tag = '*';
    } else if (this.#isIdent()) {
      tag = this.#ident().toLowerCase();
    }
    for (;;) {
      const ch = this.#peek();
      if (ch === '#') {
        this.#i++;
        ids.push(this.#ident());
      } else if (ch === '.') {
        this.#i++;
        classes.push(this.#ident());
      } else if (ch === '[') {
        this.#i++;
        attrs.push(this.#attr());
      } else if (ch === ':') {
        this.#i++;
        pseudos.push(this.#pseudo());
      } else {
        break;
      }
    }
    if (tag === undefined && ids.length + classes.length + attrs.length + pseudos.length === 0) {
      throw this.#error(this.#peek() === undefined ? 'unexpected end' : `unexpected "${this.#peek()}"`);
    }
    return { tag, ids, classes, attrs, pseudos };
  }

  #attr(): AttrSelector {
    this.#ws();
    const name = this.#ident().toLowerCase();
    this.#ws();
    if (this.#peek() === ']') {
      this.#i++;
      return { name, insensitive: false };
    }
    const two = this.text.slice(this.#i, this.#i + 2);
    let op: AttrOp;
    if (['^=', '$=', '*=', '~=', '|='].includes(two)) {
      op = two as AttrOp;
      this.#i += 2;
    } else if (this.#peek() === '=') {
      op = '=';
      this.#i++;
    } else {
      throw this.#error('a malformed attribute selector');
    }
    this.#ws();
    const value = this.#peek() === '"' || this.#peek() === "'" ? this.#string() : this.#ident();
    this.#ws();
    let insensitive = false;
    if (this.#peek() === 'i' || this.#peek() === 'I') {
      insensitive = true;
      this.#i++;
      this.#ws();
    } else if (this.#peek() === 's' || this.#peek() === 'S') {
      this.#i++;
      this.#ws();
    }
    if (this.#peek() !== ']') throw this.#error('a malformed attribute selector');
    this.#i++;
    return { name, op, value, insensitive };
  }

  #pseudo(): Pseudo {
    const name = this.#ident().toLowerCase();
    switch (name) {
      case 'visible':
      case 'checked':
      case 'disabled':
      case 'enabled':
      case 'first-child':
      case 'last-child':
        return { kind: name };
      case 'has-text':
      case 'text':
      case 'text-is': {
        const arg = this.#parenText();
        // Playwright: `:has-text()` and `:text()` are lax even when quoted; `:text-is()` is exact.
        const matcher =
          name === 'text-is'
            ? exactMatcher(arg.value)
            : arg.quoted
              ? laxMatcher(arg.value)
              : textMatcher(arg.value, this.source);
        return { kind: name === 'has-text' ? 'has-text' : 'text', matcher };
      }
      case 'not': {
        if (this.#peek() !== '(') throw this.#error(':not without an argument');
        this.#i++;
        const list = this.#list();
        this.#ws();
        if (this.#peek() !== ')') throw this.#error('an unclosed :not(');
        this.#i++;
        return { kind: 'not', list };
      }
      default:
        throw this.#error(`the ":${name}" pseudo-class`);
    }
  }

  #parenText(): { quoted: boolean; value: string } {
    if (this.#peek() !== '(') throw this.#error('a pseudo-class without its argument');
    this.#i++;
    this.#ws();
    let arg: { quoted: boolean; value: string };
    if (this.#peek() === '"' || this.#peek() === "'") {
      arg = { quoted: true, value: this.#string() };
    } else {
      const end = this.text.indexOf(')', this.#i);
      if (end < 0) throw this.#error('an unclosed pseudo-class');
      arg = { quoted: false, value: this.text.slice(this.#i, end).trim() };
      this.#i = end;
    }
    this.#ws();
    if (this.#peek() !== ')') throw this.#error('an unclosed pseudo-class');
    this.#i++;
    return arg;
  }

  #string(): string {
    const quote = this.text[this.#i];
    this.#i++;
    let out = '';
    while (this.#i < this.text.length) {
      const ch = this.text[this.#i] as string;
      if (ch === '\\') {
        out += this.text[this.#i + 1] ?? '';
        this.#i += 2;
        continue;
      }
      this.#i++;
      if (ch === quote) return out;
      out += ch;
    }
    throw this.#error('an unterminated string');
  }

  #ident(): string {
    let out = '';
    while (this.#i < this.text.length) {
      const ch = this.text[this.#i] as string;
      if (ch === '\\') {
        out += this.text[this.#i + 1] ?? '';
        this.#i += 2;
      } else if (IDENT.test(ch)) {
        out += ch;
        this.#i++;
      } else {
        break;
      }
    }
    if (out === '')
      throw this.#error(this.#peek() === undefined ? 'unexpected end' : `unexpected "${this.#peek()}"`);
    return out;
  }

  #isIdent(): boolean {
    const ch = this.#peek();
    return ch !== undefined && (IDENT.test(ch) || ch === '\\');
  }

  #peek(): string | undefined {
    return this.text[this.#i];
  }

  #ws(): boolean {
    const start = this.#i;
    while (this.#i < this.text.length && /\s/.test(this.text[this.#i] as string)) this.#i++;
    return this.#i > start;
  }

  #error(what: string): Error {
    return unsupported(this.source, what);
  }
}
