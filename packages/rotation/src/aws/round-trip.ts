/**
 * The guard against writing back less than was read. `UpdateDistribution` and `ModifyRule`
 * replace a whole configuration (a distribution's, a rule's condition list) with what the SDK
 * serialises from what it parsed, and the SDK parses only the elements its model knows: an
 * element newer than the SDK the function runs with (the Lambda runtime's, which lags) would be
 * removed by every rotation. So the raw response body is kept as AWS sent it, and the request
 * body as the SDK serialised it is compared with it before it is sent: an element path read but
 * not written back stops the call (`unmodelled-config`).
 *
 * Only element names are compared and reported, never text: a header value is the secret.
 * @module
 */

/** An element of an XML document: its local name (no prefix), child elements and text. */
export interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  /**
   * The element's own text as written (CDATA included, entity references not decoded), child
   * elements' not: only whether there is any, and an ARN, are read from it.
   */
  text: string;
}

/** The XML could not be read (not well-formed, or a construct this reader does not take). */
export class XmlReadError extends Error {
  override name = 'XmlReadError';
}

/** Index of the `>` that ends the tag opened at `from`, skipping quoted attribute values. */
function tagEnd(xml: string, from: number): number {
  let quote: string | undefined;
  for (let i = from; i < xml.length; i++) {
    const ch = xml[i];
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '>') return i;
  }
  throw new XmlReadError('a tag is not closed');
}

const localName = (qualified: string): string => qualified.slice(qualified.indexOf(':') + 1);

/**
 * Read `xml` into its element tree: the XML declaration, processing instructions, comments and a
 * `DOCTYPE` (without an internal subset) are skipped, attributes (`xmlns` included) ignored,
 * CDATA read as text, `<a/>` read as an empty `a`. Throws {@link XmlReadError} on anything that
 * is not one well-formed element.
 */
export function readXml(xml: string): XmlElement {
  const open: XmlElement[] = [];
  let root: XmlElement | undefined;
  const addText = (text: string): void => {
    const top = open[open.length - 1];
    if (top !== undefined) top.text += text;
    else if (text.trim() !== '') throw new XmlReadError('text outside the root element');
  };
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt === -1) {
      addText(xml.slice(i));
      break;
    }
    if (lt > i) addText(xml.slice(i, lt));
    const skipTo = (terminator: string, what: string): number => {
      const end = xml.indexOf(terminator, lt);
      if (end === -1) throw new XmlReadError(`${what} is not closed`);
      return end + terminator.length;
    };
    if (xml.startsWith('<!--', lt)) i = skipTo('-->', 'a comment');
    else if (xml.startsWith('<![CDATA[', lt)) {
      const end = skipTo(']]>', 'a CDATA section');
      if (open.length === 0) throw new XmlReadError('CDATA outside the root element');
      addText(xml.slice(lt + '<![CDATA['.length, end - ']]>'.length));
      i = end;
    } else if (xml.startsWith('<?', lt)) i = skipTo('?>', 'a processing instruction');
    else if (xml.startsWith('<!', lt)) {
      const end = tagEnd(xml, lt + 2);
      if (xml.slice(lt, end).includes('['))
        throw new XmlReadError('a DOCTYPE with an internal subset');
      i = end + 1;
    } else if (xml[lt + 1] === '/') {
      const end = tagEnd(xml, lt + 2);
      const name = localName(xml.slice(lt + 2, end).trim());
      const top = open.pop();
      if (top === undefined || top.name !== name)
        throw new XmlReadError('an end tag does not match its start tag');
      i = end + 1;
    } else {
      const end = tagEnd(xml, lt + 1);
      const selfClosing = xml[end - 1] === '/';
      const inner = xml.slice(lt + 1, selfClosing ? end - 1 : end);
      const qualified = /^[^\s/>]+/.exec(inner)?.[0];
      if (qualified === undefined) throw new XmlReadError('a tag without a name');
      const element: XmlElement = { name: localName(qualified), children: [], text: '' };
      const parent = open[open.length - 1];
      if (parent !== undefined) parent.children.push(element);
      else if (root === undefined) root = element;
      else throw new XmlReadError('more than one root element');
      if (!selfClosing) open.push(element);
      i = end + 1;
    }
  }
  if (root === undefined) throw new XmlReadError('no root element');
  if (open.length > 0) throw new XmlReadError('an element is not closed');
  return root;
}

/** How {@link elementPaths} walks a tree. */
export interface PathOptions {
  /**
   * A list wrapper left out of the paths (`member` in the query protocol), so that
   * `Values/member` is `Values`. Defaults to none.
   */
  readonly listWrapper?: string;
  /**
   * Leave out elements with nothing in them: no child element and no text but white space
   * (`<Items/>`, `<Comment></Comment>`). An SDK may write such an element back or leave it
   * out; either way the configuration is the same. Defaults to `false`.
   */
  readonly withContentOnly?: boolean;
}

/**
 * The element paths below `parent` (`Origins/Items/Origin/Id`: names joined by `/`, relative to
 * `parent`, without list indices). Only names are collected, never text.
 */
export function elementPaths(parent: XmlElement, options: PathOptions = {}): Set<string> {
  const paths = new Set<string>();
  const walk = (element: XmlElement, prefix: string): void => {
    for (const child of element.children) {
      if (child.name === options.listWrapper) {
        walk(child, prefix);
        continue;
      }
      const path = prefix === '' ? child.name : `${prefix}/${child.name}`;
      const empty = child.children.length === 0 && child.text.trim() === '';
      if (!(options.withContentOnly === true && empty)) paths.add(path);
      walk(child, path);
    }
  };
  walk(parent, '');
  return paths;
}

/**
 * The element paths of the document `xml`, its root element's name first
 * (`DistributionConfig/Origins/Quantity`). Throws {@link XmlReadError} when it cannot be read.
 */
export function documentPaths(xml: string, options: PathOptions = {}): Set<string> {
  return elementPaths({ name: '', children: [readXml(xml)], text: '' }, options);
}

/** The paths of `received` that `sent` lacks, sorted. */
export function missingPaths(received: ReadonlySet<string>, sent: ReadonlySet<string>): string[] {
  return [...received].filter((path) => !sent.has(path)).sort();
}

/**
 * The paths of each `Conditions.member.N` of a query-protocol (form-encoded) request body, by
 * N - 1: the keys below it with `member` list wrappers and list indices left out, and every
 * prefix of them (`HttpHeaderConfig.Values.member.1` gives `HttpHeaderConfig` and
 * `HttpHeaderConfig/Values`).
 */
export function formListPaths(body: string, list: string): Map<number, Set<string>> {
  const byIndex = new Map<number, Set<string>>();
  const head = `${list}.member.`;
  for (const key of new URLSearchParams(body).keys()) {
    if (!key.startsWith(head)) continue;
    const [index, ...rest] = key.slice(head.length).split('.');
    const n = Number(index) - 1;
    if (!Number.isInteger(n) || n < 0) continue;
    const paths = byIndex.get(n) ?? new Set<string>();
    byIndex.set(n, paths);
    const names = rest.filter((part) => part !== 'member' && !/^\d+$/.test(part));
    for (let end = 1; end <= names.length; end++) paths.add(names.slice(0, end).join('/'));
  }
  return byIndex;
}

/** At most `limit` paths, then how many more. */
export function listPaths(paths: readonly string[], limit = 10): string {
  const shown = paths.slice(0, limit).join(', ');
  return paths.length > limit ? `${shown} and ${paths.length - limit} more` : shown;
}

// ---- the SDK side: per-command middleware -----------------------------------------------------

/** What of an SDK v3 command this module uses (its own middleware stack, not the client's). */
export interface CommandWithStack {
  readonly middlewareStack: {
    addRelativeTo(
      middleware: never,
      options: { name: string; relation: 'after'; toMiddleware: string },
    ): void;
    add(middleware: never, options: { name: string; step: 'build'; priority: 'low' }): void;
  };
}

/**
 * What of an SDK v3 client this module uses: its stream collector, when it has one (a caller's
 * wrapper `{ send }` around a real client has none: the body is then read as a Node stream).
 */
export interface ClientWithCollector {
  readonly config?: { readonly streamCollector?: (body: unknown) => Promise<Uint8Array> };
}

/**
 * The bytes of a response body: as they are, through the client's collector, or read as an
 * async-iterable stream (Node's `IncomingMessage`). Review, thirteenth session: a caller's
 * wrapper client, without `config`, failed every rotation with a misleading parse error.
 */
async function bodyBytes(body: unknown, client: ClientWithCollector): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  const collector = client.config?.streamCollector;
  if (typeof collector === 'function') return collector(body);
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body !== null && typeof body === 'object' && Symbol.asyncIterator in body) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array | string>)
      chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk);
    return Buffer.concat(chunks);
  }
  throw new XmlReadError('the response body is neither bytes nor a stream');
}

type Handler = (args: { request?: unknown }) => Promise<{ response?: unknown; output?: unknown }>;

/**
 * Keep the body of `command`'s successful response as AWS sent it: a middleware right after the
 * SDK's `deserializerMiddleware` (so between it and the transport) reads the body and hands the
 * deserializer the same bytes. The returned function gives the body of the last response (a
 * retried call keeps the last attempt's), or `undefined` if none was read.
 */
export function keepResponseBody(
  command: CommandWithStack,
  client: ClientWithCollector,
): () => string | undefined {
  let body: string | undefined;
  const keep = (next: Handler) => async (args: { request?: unknown }) => {
    const result = await next(args);
    const response = result.response as { statusCode?: number; body?: unknown } | undefined;
    const status = response?.statusCode ?? 0;
    if (response !== undefined && status >= 200 && status < 300) {
      const bytes = await bodyBytes(response.body, client);
      response.body = bytes;
      body = new TextDecoder().decode(bytes);
    }
    return result;
  };
  command.middlewareStack.addRelativeTo(keep as never, {
    name: 'cdnOriginGuardKeepResponseBody',
    relation: 'after',
    toMiddleware: 'deserializerMiddleware',
  });
  return () => body;
}

/** The result a {@link checkRequestBody} dry run ends the call with: nothing was sent. */
export const NOT_SENT = Symbol('cdnOriginGuardNotSent');

/**
 * Check the request body `command` serialised before it is sent (a `build`-step middleware, so
 * before signing and retries): `check` throws to stop the call. With `dryRun`, the call ends
 * there and `client.send` resolves to `{ [NOT_SENT]: true }` without any request.
 */
export function checkRequestBody(
  command: CommandWithStack,
  check: (body: string) => void,
  { dryRun = false }: { readonly dryRun?: boolean } = {},
): void {
  const checked = (next: Handler) => async (args: { request?: unknown }) => {
    const body = (args.request as { body?: unknown } | undefined)?.body;
    check(
      typeof body === 'string'
        ? body
        : body instanceof Uint8Array
          ? new TextDecoder().decode(body)
          : '',
    );
    if (dryRun) return { output: { [NOT_SENT]: true, $metadata: {} }, response: {} };
    return next(args);
  };
  command.middlewareStack.add(checked as never, {
    name: 'cdnOriginGuardCheckRequestBody',
    step: 'build',
    priority: 'low',
  });
}
