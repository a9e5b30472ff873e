/**
 * Paged AWS listings, read to their end or not at all: a token answered twice, more pages than
 * any real answer has, or a page that says it is truncated without saying where it goes on is a
 * faulty answer. Each becomes a {@link PagingFault}, which `gather` turns into an `error` skip, so
 * the check that needed the listing is `INCOMPLETE` instead of paging for ever or judging half
 * an account (review, thirteenth session: only ListSecretVersionIds was bounded; a repeated
 * `NextMarker` of DescribeRules kept the CLI paging until it was killed). The rotation package
 * bounds its own listings the same way (`nextPageOf`), throwing its own error type.
 * @module
 */
import { DEFAULTS, type IamAction } from '../constants.js';
import type { Step } from './errors.js';

/** Where a page says the listing goes on. */
export interface PageEnd {
  /** `NextToken` / `NextMarker`: `undefined` or `''` when none. */
  readonly token: string | undefined;
  /**
   * `IsTruncated`, for the calls that answer it (CloudFront): `true` with no token is a faulty
   * page, `false` ends the listing whatever the token. Left out, the token alone decides.
   */
  readonly truncated?: boolean;
}

/** One paged listing. */
export interface Listing<P> {
  /** The action every page calls (a failure skips the check with it). */
  readonly action: IamAction;
  /** Ask for the page after `token` (`undefined`: the first page). */
  readonly ask: (token: string | undefined) => Promise<P>;
  /** Where `page` says the listing goes on. */
  readonly next: (page: P) => PageEnd;
  /** Most pages read. Defaults to `DEFAULTS.maxListPages`. */
  readonly maxPages?: number;
  /**
   * What is not known when the listing is cut short, appended to the skip's message (", so the
   * age of the pending version ... was not read").
   */
  readonly lost?: string;
}

/** A listing that was not read to its end; `gather` makes it an `error` skip with this message. */
export class PagingFault extends Error {
  constructor(
    readonly action: IamAction,
    why: string,
    lost = '',
  ) {
    super(
      `${action} was not read to its end (${why})${lost}: a faulty endpoint or proxy (AWS_ENDPOINT_URL*, HTTPS_PROXY) answered this; run the audit again`,
    );
    this.name = 'PagingFault';
  }
}

/**
 * The pages of `listing`, one at a time (a caller may stop early), each asked through `step`.
 * Throws a {@link PagingFault} when a token comes back, when the pages pass `maxPages`, or when
 * a page is truncated without a token (CloudFront: before, the listing silently stopped there).
 */
export async function* pagesOf<P>(step: Step, listing: Listing<P>): AsyncGenerator<P, void> {
  const max = listing.maxPages ?? DEFAULTS.maxListPages;
  const seen = new Set<string>();
  const tokenName = /^(elasticloadbalancing|cloudfront):/.test(listing.action)
    ? 'NextMarker'
    : 'NextToken';
  let token: string | undefined;
  for (let read = 1; ; read++) {
    const page = await step(listing.action, () => listing.ask(token));
    yield page;
    const end = listing.next(page);
    const more = end.truncated ?? (end.token !== undefined && end.token !== '');
    if (!more) return;
    if (end.token === undefined || end.token === '')
      throw new PagingFault(
        listing.action,
        `a page said it was truncated with no ${tokenName}`,
        listing.lost,
      );
    if (seen.has(end.token))
      throw new PagingFault(
        listing.action,
        `it answered a ${tokenName} it had already given (a loop)`,
        listing.lost,
      );
    if (read >= max)
      throw new PagingFault(listing.action, `it still had pages after ${max}`, listing.lost);
    seen.add(end.token);
    token = end.token;
  }
}

/** Every item of every page of `listing` ({@link pagesOf}). */
export async function allPages<P, T>(
  step: Step,
  listing: Listing<P>,
  items: (page: P) => readonly T[] | undefined,
): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pagesOf(step, listing)) out.push(...(items(page) ?? []));
  return out;
}
