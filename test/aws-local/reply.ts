/**
 * The reply value every local service handler returns, and helpers to build one.
 * @module
 */

/** A complete HTTP reply. The server adds `content-length`. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** An AWS JSON 1.1 reply (`application/x-amz-json-1.1`). */
export function jsonReply(status: number, body: unknown, requestId: string): Reply {
  return {
    status,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': requestId,
    },
    body: JSON.stringify(body),
  };
}

/** An XML reply (EC2 query protocol). */
export function xmlReply(status: number, body: string, requestId: string): Reply {
  return {
    status,
    headers: { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId },
    body,
  };
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** Escape text for XML element content (as AWS does: quotes are left as they are). */
export function escapeXml(text: string): string {
  return text.replace(/[&<>]/g, (c) => XML_ESCAPES[c] ?? c);
}
