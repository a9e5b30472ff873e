/**
 * The npm calls the tarball tests share: pack workspaces, install into a scratch project.
 * @module
 */
import { execFileSync } from 'node:child_process';

/** `npm install` as the scratch projects run it: from the cache when it can, quietly. */
export const NPM_INSTALL: readonly string[] = [
  'install',
  '--prefer-offline',
  '--no-audit',
  '--no-fund',
  '--loglevel=error',
];

/** `npm pack` the workspaces `packages/<name>` of `root` into `destination`. */
export function packWorkspaces(root: string, names: readonly string[], destination: string): void {
  execFileSync(
    'npm',
    [
      'pack',
      '--silent',
      '--pack-destination',
      destination,
      ...names.flatMap((p) => ['--workspace', `packages/${p}`]),
    ],
    { cwd: root, stdio: 'ignore' },
  );
}
