/**
 * The `cdn-origin-guard` command line, as a function of argv and output streams (the bin calls it).
 * @module
 */

import { parseArgs } from 'node:util';
import { isAwsResponseParseFailure } from '@cdn-origin-guard/core';
import { DEFAULTS } from './constants.js';
import { AuditError, type AuditErrorCode } from './errors.js';
import { toJson } from './report/json.js';
import { renderTable } from './report/table.js';

/** Where the command writes. */
export interface CommandIo {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown };
}

/** The usage text. */
export const USAGE = `Usage: cdn-origin-guard audit --alb <name|arn> [options]

Read-only audit of the AWS side of a CloudFront -> ALB origin.

Options:
  --alb <name|arn>        the Application Load Balancer (required)
  --distribution <id>     CloudFront distribution id (repeatable); default: every
                          distribution with an origin at the ALB's DNS name
  --secret-id <id>        Secrets Manager secret holding the header value
  --json-key <key>        key of a JSON secret that holds the value
  --header <name>         header name (default ${DEFAULTS.headerName})
  --region <region>       AWS region of the ALB (default: AWS_REGION / profile)
  --probe                 request the ALB's DNS name without the header
  --probe-address <ip>    connect the probe to this address instead of DNS
  --probe-timeout <ms>    timeout of each probe request (default ${DEFAULTS.probeTimeoutMs})
  --json                  print the report as JSON (schemaVersion 1)
  --allow-incomplete      exit 0, not 3, when a check could not run (access denied,
                          throttled, AWS error); the status stays INCOMPLETE
  -h, --help              show this help

Exit codes: 0 no check failed, 1 a check failed, 2 the audit could not run,
3 a check could not run (the hole it looks for may be there).
Endpoints follow the AWS SDK's environment (AWS_ENDPOINT_URL, AWS_PROFILE, ...).`;

/** The `--json` document of a run that could not happen (exit 2). */
function errorJson(code: AuditErrorCode, message: string): string {
  const document = {
    schemaVersion: 1,
    tool: 'cdn-origin-guard',
    command: 'audit',
    exitCode: 2,
    error: { code, message },
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Whether `--json` was asked for, read from argv itself: a command line that cannot be parsed
 * still gets its error as JSON (outside review, 4 December: CI parsing stdout got nothing).
 * Arguments after `--` are positionals, not options.
 */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/** Run the command; resolves with the exit code. Never throws. */
export async function runCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  // A command line the audit cannot run: the message and the usage on stderr, and with --json
  // the error document on stdout, as for any run that cannot happen.
  const usageError = (problem: string): number => {
    if (wantsJson(argv))
      io.stdout.write(
        errorJson('ERR_CDN_ORIGIN_GUARD_AUDIT_OPTION', `cdn-origin-guard: ${problem}`),
      );
    io.stderr.write(`cdn-origin-guard: ${problem}\n\n${USAGE}\n`);
    return 2;
  };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals[0] !== 'audit' || positionals.length > 1)
    return usageError('expected the command `audit`');
  if (values.alb === undefined) return usageError('--alb <name|arn> is required');
  const probeTimeoutMs =
    values['probe-timeout'] === undefined ? undefined : Number(values['probe-timeout']);
  try {
    // Loaded only now: the SDK clients take a while to load, and --help or a usage error need none.
    const { runAudit } = await import('./audit.js');
    const report = await runAudit({
      loadBalancer: values.alb,
      distributionIds: values.distribution,
      secretId: values['secret-id'],
      jsonKey: values['json-key'],
      headerName: values.header,
      region: values.region,
      probe: values.probe === true,
      probeAddress: values['probe-address'],
      probeTimeoutMs,
      allowIncomplete: values['allow-incomplete'] === true,
    });
    if (values.json === true) io.stdout.write(`${JSON.stringify(toJson(report), null, 2)}\n`);
    else io.stdout.write(`${renderTable(report, { color: io.stdout.isTTY === true })}\n`);
    return report.exitCode;
  } catch (error) {
    const message =
      error instanceof AuditError
        ? error.message
        : `@cdn-origin-guard/audit: unexpected ${(error as Error | undefined)?.name ?? 'error'}: ${isAwsResponseParseFailure(error) ? 'an AWS response could not be parsed (not quoted: it may hold a secret)' : ((error as Error | undefined)?.message ?? String(error))}`;
    if (values.json === true) {
      io.stdout.write(
        errorJson(
          error instanceof AuditError ? error.code : 'ERR_CDN_ORIGIN_GUARD_AUDIT_AWS',
          message,
        ),
      );
    }
    io.stderr.write(`${message}\n`);
    return 2;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      alb: { type: 'string' },
      distribution: { type: 'string', multiple: true },
      'secret-id': { type: 'string' },
      'json-key': { type: 'string' },
      header: { type: 'string' },
      region: { type: 'string' },
      probe: { type: 'boolean' },
      'probe-timeout': { type: 'string' },
      'probe-address': { type: 'string' },
      json: { type: 'boolean' },
      'allow-incomplete': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
