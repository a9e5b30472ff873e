/**
 * Paged AWS listings, bounded: a token that comes back, or more pages than any real answer has,
 * is a faulty answer that would page until the Lambda's timeout with no line logged (review,
 * 4 December, fifth session).
 * @module
 */
import { MAX_LIST_PAGES } from '../constants.js';
import { RotationError } from '../errors.js';

/**
 * A function taking each page's next token (`NextToken`, `NextMarker`) and returning the one to
 * ask for next, or `undefined` once the listing is done (no token, or an empty one). Throws an
 * `aws-error` naming `what` when a token repeats or the pages pass {@link MAX_LIST_PAGES}.
 */
export function nextPageOf(what: string): (token: string | undefined) => string | undefined {
  const seen = new Set<string>();
  return (token) => {
    if (token === undefined || token === '') return undefined;
    if (seen.has(token) || seen.size + 1 >= MAX_LIST_PAGES)
      throw new RotationError(
        'aws-error',
        `${what} kept paging (${seen.size + 1} pages, or a token repeated); the listing could not be read.`,
      );
    seen.add(token);
    return token;
  };
}
