/**
 * The README's first quick-start command must keep working: run the demo end to end (local
 * AWS endpoint, Express example, real SDK, rotation) and require that it ends by itself with
 * every decision as designed.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('npm run demo', () => {
  it('plays the whole story, prints the tables and exits 0 by itself', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('Enforce mode');
    expect(result.stdout).toContain('Report mode');
    expect(result.stdout).toMatch(
      /scanner bot straight to the ALB .* 403 +DENIED +edge-not-cloudfront/,
    );
    expect(result.stdout).toMatch(
      /rotation: CloudFront switched to AWSPENDING .* 200 +ALLOWED +verified \(AWSPENDING\)/,
    );
    expect(result.stdout).toMatch(
      /setSecret .* denied 0 .*alb-rules-widened, waiting-for-apps, distribution-updated/,
    );
    expect(result.stdout).toContain('every decision as designed');
    // The audit runs before the attack table: six holes in the story's account, none once fixed.
    expect(result.stdout).toContain('6 of 6 holes found');
    expect(result.stdout).toContain('all 10 checks PASS');
    expect(result.stdout.indexOf('all 10 checks PASS')).toBeLessThan(
      result.stdout.indexOf('Enforce mode'),
    );
  }, 120_000);
});
