/**
 * A node of the tiny DOM the fake page understands: elements with attributes and children, and text nodes
 * (tag `#text`). Pages of a {@link FakeSite} are built from these; nothing parses HTML.
 *
 * @example
 * ```ts
 * const doc = fakeDocument('Account', h('h1', {}, 'Account'), h('span', { id: 'user' }, 'alice'));
 * ```
 */
export interface FakeNode {
  /** Lower-case tag name, `#text` for text nodes, `#document` for the root. */
  readonly tag: string;
  /** Attributes (boolean attributes have the value `''`). */
  readonly attrs: Record<string, string>;
  /** Text of a text node; `''` for elements. */
  readonly text: string;
  /** Children in document order. */
  readonly children: FakeNode[];
  /** Parent node; undefined for the root. */
  parent: FakeNode | undefined;
  /** Current value of a form control (what `fill` writes). */
  value: string;
  /** Checked state of a checkbox or radio. */
  checked: boolean;
}

/**
 * A page as served by a {@link FakeSite}: a title and a tree rooted at a `#document` node.
 *
 * @example
 * ```ts
 * const doc: FakeDocument = fakeDocument('Home', h('h1', {}, 'Home'));
 * ```
 */
export interface FakeDocument {
  /** The `<title>`. */
  readonly title: string;
  /** The `#document` root; its only child is `<html>`. */
  readonly root: FakeNode;
}

/**
 * What `h()` accepts as a child: a node, a text, or nothing (skipped, for conditional children).
 *
 * @example
 * ```ts
 * h('p', {}, 'Hello ', user && h('b', {}, user.name));
 * ```
 */
export type FakeChild = FakeNode | string | null | undefined | false;

/**
 * Builds an element. Attribute values `true` become boolean attributes, `false`/`undefined` are dropped.
 *
 * @example
 * ```ts
 * h('input', { id: 'username', name: 'username', type: 'text' });
 * h('button', { id: 'login', type: 'submit' }, 'Log in');
 * ```
 */
export function h(
  tag: string,
  attrs: Readonly<Record<string, string | boolean | undefined>> = {},
  ...children: FakeChild[]
): FakeNode {
  const attributes: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    attributes[name.toLowerCase()] = value === true ? '' : value;
  }
  const node: FakeNode = {
    tag: tag.toLowerCase(),
    attrs: attributes,
    text: '',
    children: [],
    parent: undefined,
    value: attributes.value ?? '',
    checked: 'checked' in attributes,
  };
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    const childNode = typeof child === 'string' ? textNode(child) : child;
    childNode.parent = node;
    node.children.push(childNode);
  }
  return node;
}

/**
 * Builds a whole document: `<html><head><title>…</title></head><body>…</body></html>`.
 *
 * @example
 * ```ts
 * const doc = fakeDocument('Sign in', h('h1', {}, 'Sign in'));
 * ```
 */
export function fakeDocument(title: string, ...body: FakeChild[]): FakeDocument {
  const html = h('html', {}, h('head', {}, h('title', {}, title)), h('body', {}, ...body));
  const root: FakeNode = {
    tag: '#document',
    attrs: Object.create(null),
    text: '',
    children: [html],
    parent: undefined,
    value: '',
    checked: false,
  };
  html.parent = root;
  return { title, root };
}

/**
 * The empty document of `about:blank` and of error pages.
 *
 * @example
 * ```ts
 * const doc = blankDocument();
 * ```
 */
export function blankDocument(): FakeDocument {
  return fakeDocument('');
}

function textNode(text: string): FakeNode {
  return {
    tag: '#text',
    attrs: Object.create(null),
    text,
    children: [],
    parent: undefined,
    value: '',
    checked: false,
  };
}

/** True for element nodes (not text, not the document root). */
export function isElement(node: FakeNode): boolean {
  return node.tag !== '#text' && node.tag !== '#document';
}

/** Every element below `scope`, in document order (not `scope` itself). */
export function descendants(scope: FakeNode): FakeNode[] {
  const out: FakeNode[] = [];
  const walk = (node: FakeNode) => {
    for (const child of node.children) {
      if (!isElement(child)) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(scope);
  return out;
}

/** `textContent` as the DOM defines it: every descendant text, concatenated. */
export function textContent(node: FakeNode): string {
  if (node.tag === '#text') return node.text;
  let out = '';
  for (const child of node.children) out += textContent(child);
  return out;
}

/** Collapses runs of whitespace and trims, as Playwright does for text matching. */
export function normalizeText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** An approximation of `innerText`: the visible text, whitespace-normalised. */
export function innerText(node: FakeNode): string {
  const collect = (n: FakeNode): string => {
    if (n.tag === '#text') return n.text;
    if (!isRendered(n)) return '';
    return n.children.map(collect).join('');
  };
  return normalizeText(collect(node));
}

const NEVER_RENDERED = new Set(['head', 'title', 'script', 'style', 'template', 'meta', 'link']);

function isRendered(node: FakeNode): boolean {
  if (NEVER_RENDERED.has(node.tag)) return false;
  if ('hidden' in node.attrs) return false;
  const style = (node.attrs.style ?? '').replace(/\s+/g, '').toLowerCase();
  if (style.includes('display:none') || style.includes('visibility:hidden')) return false;
  if (node.tag === 'input' && (node.attrs.type ?? '').toLowerCase() === 'hidden') return false;
  return true;
}

/** Visible as Playwright means it: rendered, and every ancestor rendered too. */
export function isVisible(node: FakeNode): boolean {
  for (let n: FakeNode | undefined = node; n && n.tag !== '#document'; n = n.parent) {
    if (n.tag === '#text') continue;
    if (!isRendered(n)) return false;
  }
  return true;
}

/** True when the control is enabled (no `disabled` attribute on it or on an enclosing fieldset). */
export function isEnabled(node: FakeNode): boolean {
  for (let n: FakeNode | undefined = node; n; n = n.parent) {
    if ('disabled' in n.attrs && (n === node || n.tag === 'fieldset')) return false;
  }
  return true;
}

/** True for elements `fill` accepts. */
export function isEditable(node: FakeNode): boolean {
  if (node.tag === 'textarea') return true;
  if (node.tag === 'input') {
    const type = (node.attrs.type ?? 'text').toLowerCase();
    return !['checkbox', 'radio', 'submit', 'button', 'reset', 'image', 'file', 'hidden'].includes(type);
  }
  return 'contenteditable' in node.attrs;
}

/** The nearest enclosing `<form>`, if any. */
export function closestForm(node: FakeNode): FakeNode | undefined {
  for (let n: FakeNode | undefined = node; n; n = n.parent) if (n.tag === 'form') return n;
  return undefined;
}

/** The named, enabled controls of a form and their values, as a browser would submit them. */
export function formData(form: FakeNode): Record<string, string> {
  const data: Record<string, string> = Object.create(null);
  for (const el of descendants(form)) {
    const name = el.attrs.name;
    if (name === undefined || !isEnabled(el)) continue;
    if (el.tag === 'input') {
      const type = (el.attrs.type ?? 'text').toLowerCase();
      if (['submit', 'button', 'reset', 'image'].includes(type)) continue;
      if ((type === 'checkbox' || type === 'radio') && !el.checked) continue;
      data[name] = el.value || (type === 'checkbox' || type === 'radio' ? 'on' : '');
    } else if (el.tag === 'textarea' || el.tag === 'select') {
      data[name] = el.value;
    }
  }
  return data;
}

const VOID_TAGS = new Set(['input', 'br', 'hr', 'img', 'meta', 'link']);

/** Serialises a document to HTML, for `page.content()`. */
export function serialize(doc: FakeDocument): string {
  const write = (node: FakeNode): string => {
    if (node.tag === '#text') return escapeHtml(node.text);
    if (node.tag === '#document') return '<!DOCTYPE html>' + node.children.map(write).join('');
    const attrs = Object.entries(node.attrs)
      .map(([k, v]) => (v === '' ? ` ${k}` : ` ${k}="${escapeHtml(v)}"`))
      .join('');
    if (VOID_TAGS.has(node.tag)) return `<${node.tag}${attrs}>`;
    return `<${node.tag}${attrs}>${node.children.map(write).join('')}</${node.tag}>`;
  };
  return write(doc.root);
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
