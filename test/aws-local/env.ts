/**
 * Set environment variables for the duration of a test and put the old values back.
 * @module
 */

/**
 * Apply `vars` to `process.env` (`undefined` deletes a variable) and return a function that
 * restores every touched variable exactly as it was.
 * @example
 * const restore = setEnv(aws.env());
 * try { ... } finally { restore(); }
 */
export function setEnv(vars: Readonly<Record<string, string | undefined>>): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(vars)) {
    saved.set(name, process.env[name]);
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}
