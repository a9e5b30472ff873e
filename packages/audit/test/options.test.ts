/**
 * Options are validated once, before any AWS call, with an AuditError (exit code 2) that names
 * the option and what is expected; the command line maps them the same way.
 */
import { AuditError, resolveOptions, runCommand } from '@cdn-origin-guard/audit';
import { describe, expect, it } from 'vitest';

function errorOf(fn: () => unknown): AuditError {
  try {
    fn();
  } catch (error) {
    if (error instanceof AuditError) return error;
    throw error;
  }
  throw new Error('did not throw');
}

describe('resolveOptions', () => {
  it('fills the defaults and lower-cases the header name', () => {
    expect(
      resolveOptions({ loadBalancer: ' prod-web ', headerName: 'X-Origin-Verify' }),
    ).toMatchObject({
      loadBalancer: 'prod-web',
      headerName: 'x-origin-verify',
      distributionIds: [],
      probe: false,
      probeTimeoutMs: 3000,
      secretId: undefined,
    });
  });

  it.each([
    [{ loadBalancer: '' }, 'loadBalancer', 'must be a non-empty string'],
    [{ loadBalancer: 'a', headerName: 'x origin' }, 'headerName', 'not a valid HTTP header name'],
    [
      { loadBalancer: 'a', distributionIds: ['d123'] },
      'distributionIds[0]',
      'not a CloudFront distribution id',
    ],
    [
      { loadBalancer: 'a', probeAddress: 'alb.example.com' },
      'probeAddress',
      'IPv4 or IPv6 address',
    ],
    [{ loadBalancer: 'a', probeTimeoutMs: 10 }, 'probeTimeoutMs', 'between 50 and 60000'],
    [{ loadBalancer: 'a', maxAttempts: 0 }, 'maxAttempts', 'between 1 and 10'],
  ])('%j names `%s`', (options, option, problem) => {
    const error = errorOf(() => resolveOptions(options as Parameters<typeof resolveOptions>[0]));
    expect(error.code).toBe('ERR_CDN_ORIGIN_GUARD_AUDIT_OPTION');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(`option \`${option}\``);
    expect(error.message).toContain(problem);
  });
});

describe('runCommand', () => {
  const capture = () => {
    let out = '';
    let err = '';
    return {
      io: {
        stdout: { write: (t: string) => (out += t) },
        stderr: { write: (t: string) => (err += t) },
      },
      out: () => out,
      err: () => err,
    };
  };

  it('prints the usage with --help and exits 0', async () => {
    const c = capture();
    expect(await runCommand(['--help'], c.io)).toBe(0);
    expect(c.out()).toContain(
      'Exit codes: 0 no check failed, 1 a check failed, 2 the audit could not run,\n3 a check could not run',
    );
    expect(c.out()).toContain('--allow-incomplete');
  });

  it('exits 2 before any AWS call on a bad option value', async () => {
    const c = capture();
    expect(await runCommand(['audit', '--alb', 'x', '--probe-timeout', 'soon'], c.io)).toBe(2);
    expect(c.err()).toContain('option `probeTimeoutMs` must be an integer');
  });

  it('exits 2 without --alb', async () => {
    const c = capture();
    expect(await runCommand(['audit'], c.io)).toBe(2);
    expect(c.err()).toContain('--alb <name|arn> is required');
  });

  // Outside review, 4 December: a command-line error printed nothing on stdout with --json,
  // though the README promises the error document whenever the audit cannot run.
  it.each([
    ['--alb is missing', ['audit', '--json'], '--alb <name|arn> is required'],
    [
      'a flag has no value',
      ['audit', '--json', '--alb'],
      "Option '--alb <value>' argument missing",
    ],
    [
      'a flag is unknown',
      ['audit', '--alb', 'x', '--json', '--fix-everything'],
      "Unknown option '--fix-everything'",
    ],
    ['the command is not audit', ['fix', '--alb', 'x', '--json'], 'expected the command `audit`'],
  ])(
    'prints the error document on stdout with --json when %s, and exits 2',
    async (_, argv, problem) => {
      const c = capture();

      const code = await runCommand(argv, c.io);

      expect(code).toBe(2);
      expect(JSON.parse(c.out())).toEqual({
        schemaVersion: 1,
        tool: 'cdn-origin-guard',
        command: 'audit',
        exitCode: 2,
        error: {
          code: 'ERR_CDN_ORIGIN_GUARD_AUDIT_OPTION',
          message: expect.stringContaining(problem),
        },
      });
      expect(c.err()).toContain(problem);
      expect(c.err()).toContain('Usage: cdn-origin-guard audit');
    },
  );

  it('keeps stdout empty on a command-line error without --json, and after --', async () => {
    const plain = capture();
    const afterTerminator = capture();

    expect(await runCommand(['audit'], plain.io)).toBe(2);
    expect(await runCommand(['audit', '--', '--json'], afterTerminator.io)).toBe(2);

    expect(plain.out()).toBe('');
    expect(afterTerminator.out()).toBe('');
  });

  it('exits 2 on an unknown command', async () => {
    const c = capture();
    expect(await runCommand(['fix', '--alb', 'x'], c.io)).toBe(2);
    expect(c.err()).toContain('expected the command `audit`');
  });
});
