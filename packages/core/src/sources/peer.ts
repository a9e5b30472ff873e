/**
 * The AWS SDK clients are optional peer dependencies: this checks, synchronously and at
 * construction, that the one a configuration needs can be resolved, in both the ESM and the
 * CommonJS build. Internal: not exported from the package.
 * @module
 */
import { createRequire } from 'node:module';
import { InvalidOptionError } from '../errors.js';

/** The file this module was loaded from (a path or a file: URL), read from V8's call sites. */
function ownFile(): string | undefined {
  const original = Error.prepareStackTrace;
  try {
    Error.prepareStackTrace = (_error, frames) => frames;
    const frames = new Error().stack as unknown as readonly NodeJS.CallSite[] | undefined;
    const name = Array.isArray(frames) ? frames[0]?.getFileName() : undefined;
    return typeof name === 'string' && name.length > 0 ? name : undefined;
  } catch {
    return undefined;
  } finally {
    Error.prepareStackTrace = original;
  }
}

let resolver: ((id: string) => string) | null | undefined;

/**
 * `require.resolve` as seen from this package (where an installed peer is found), or null
 * when this module's location cannot be told (the check is then left to the first load).
 */
function resolveFromHere(): ((id: string) => string) | null {
  if (resolver === undefined) {
    const file = ownFile();
    try {
      resolver = file === undefined ? null : createRequire(file).resolve;
    } catch {
      resolver = null;
    }
  }
  return resolver;
}

/**
 * Throw `InvalidOptionError` on `option` when the optional peer `packageName` is not
 * installed, with the `npm install` line and the way around it (`clientOption`).
 */
export function requirePeer(option: string, packageName: string, clientOption: string): void {
  const resolve = resolveFromHere();
  if (resolve === null) return;
  try {
    resolve(packageName);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'MODULE_NOT_FOUND') return;
    throw new InvalidOptionError(
      option,
      `needs the optional peer dependency ${packageName}, which is not installed. Install it next to @cdn-origin-guard/core: \`npm install ${packageName}\` (or pass your own client in \`${clientOption}\`).`,
    );
  }
}
