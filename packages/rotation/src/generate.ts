/**
 * New values from `node:crypto`, and the header value inside a (possibly JSON) SecretString.
 * @module
 */
import { randomBytes, randomInt } from 'node:crypto';
import { BASE64URL_ALPHABET } from './constants.js';
import { RotationError } from './errors.js';

/**
 * A random value of `length` characters from `alphabet`. With the default base64url alphabet
 * it is `length * 6 / 8` random bytes as base64url (64 characters = 48 bytes); otherwise each
 * character is drawn uniformly with `crypto.randomInt`.
 */
export function generateSecretValue(length: number, alphabet: string): string {
  if (alphabet === BASE64URL_ALPHABET)
    return randomBytes(Math.ceil((length * 6) / 8))
      .toString('base64url')
      .slice(0, length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

function parseObject(
  secretString: string,
  where: string,
  jsonKey: string,
): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new RotationError(
      'bad-secret',
      `${where} is not a JSON object, so jsonKey "${jsonKey}" cannot be used.`,
    );
  return parsed as Record<string, unknown>;
}

/** The header value a SecretString holds (the whole string, or its `jsonKey`). */
export function headerValueOf(
  secretString: string,
  jsonKey: string | undefined,
  where: string,
): string {
  if (jsonKey === undefined) return secretString;
  const value = parseObject(secretString, where, jsonKey)[jsonKey];
  if (typeof value !== 'string')
    throw new RotationError('bad-secret', `${where} has no string at key "${jsonKey}" (jsonKey).`);
  return value;
}

/** The SecretString to store for `value`: the value itself, or `current` with only `jsonKey` replaced. */
export function withHeaderValue(
  current: string,
  value: string,
  jsonKey: string | undefined,
  where: string,
): string {
  if (jsonKey === undefined) return value;
  return JSON.stringify({ ...parseObject(current, where, jsonKey), [jsonKey]: value });
}
