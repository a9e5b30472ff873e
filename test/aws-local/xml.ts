/**
 * A small XML reader and writer for the REST-XML services (CloudFront): elements, text and
 * the five predefined entities; attributes are read and dropped (only `xmlns` occurs).
 * Enough for what the AWS SDK sends; not a general-purpose parser.
 * @module
 */

/** One element: its name, its text (leaf) or its children (in order). */
export interface XmlNode {
  name: string;
  text: string;
  children: XmlNode[];
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, body: string) => {
    if (body.startsWith('#x')) return String.fromCodePoint(Number.parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return String.fromCodePoint(Number.parseInt(body.slice(1), 10));
    return ENTITIES[body] ?? whole;
  });
}

/** Thrown for text that is not well-formed XML. */
export class XmlSyntaxError extends Error {}

const TOKEN_RE =
  /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<\/([^\s>]+)\s*>|<([^\s/>]+)([^>]*?)(\/?)>|([^<]+)/g;

/** Parse a document into its root element. */
export function parseXml(text: string): XmlNode {
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  TOKEN_RE.lastIndex = 0;
  for (let m = TOKEN_RE.exec(text); m !== null; m = TOKEN_RE.exec(text)) {
    const [whole, closing, opening, , selfClosing, chars] = m;
    if (whole.startsWith('<?') || whole.startsWith('<!--')) continue;
    if (closing !== undefined) {
      const open = stack.pop();
      if (open === undefined || open.name !== closing)
        throw new XmlSyntaxError(`unexpected </${closing}>`);
      if (stack.length === 0) root = open;
      continue;
    }
    if (opening !== undefined) {
      const node: XmlNode = { name: opening, text: '', children: [] };
      const parent = stack[stack.length - 1];
      if (parent !== undefined) parent.children.push(node);
      else if (root !== undefined) throw new XmlSyntaxError('more than one root element');
      if (selfClosing === '/') {
        if (parent === undefined) root = node;
      } else stack.push(node);
      continue;
    }
    if (chars !== undefined) {
      const parent = stack[stack.length - 1];
      if (parent === undefined) {
        if (chars.trim().length > 0) throw new XmlSyntaxError('text outside the root element');
      } else parent.text += decode(chars);
    }
  }
  if (stack.length > 0 || root === undefined) throw new XmlSyntaxError('unterminated document');
  return root;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

/** Serialise an element (children win over text). */
export function writeXml(node: XmlNode, xmlns?: string): string {
  const attr = xmlns === undefined ? '' : ` xmlns="${xmlns}"`;
  if (node.children.length > 0) {
    return `<${node.name}${attr}>${node.children.map((c) => writeXml(c)).join('')}</${node.name}>`;
  }
  if (node.text.trim().length === 0) return `<${node.name}${attr}/>`;
  return `<${node.name}${attr}>${node.text.replace(/[&<>"]/g, (c) => ESCAPES[c] ?? c)}</${node.name}>`;
}

/** A leaf element. */
export function leaf(name: string, text: string | number | boolean): XmlNode {
  return { name, text: String(text), children: [] };
}

/** An element with children. */
export function el(name: string, children: XmlNode[]): XmlNode {
  return { name, text: '', children };
}

/** The first child named `name`. */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name);
}

/** Follow a path of child names. */
export function at(node: XmlNode | undefined, ...path: string[]): XmlNode | undefined {
  let current = node;
  for (const name of path) current = child(current, name);
  return current;
}

/** The text of the element at `path`, or `undefined`. */
export function textAt(node: XmlNode | undefined, ...path: string[]): string | undefined {
  const found = at(node, ...path);
  return found === undefined ? undefined : found.text.trim();
}

/** A deep copy. */
export function cloneXml(node: XmlNode): XmlNode {
  return { name: node.name, text: node.text, children: node.children.map(cloneXml) };
}
