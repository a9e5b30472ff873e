/**
 * A minimal keep-alive HTTP/1.1 client over `net` sockets: writes hand-built request bytes
 * (Node's own client refuses many of the bytes the hostile tests need) and parses the status,
 * headers and body of each response. One request at a time per connection; a connection the
 * server closes is replaced on the next request. Only ever connects to 127.0.0.1.
 * @module
 */
import { connect, type Socket } from 'node:net';

/** One parsed response. */
export interface RawResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The raw bytes of the status line and headers. */
  readonly head: string;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

interface Pending {
  readonly resolve: (r: RawResponse) => void;
  readonly reject: (e: Error) => void;
  readonly headOnly: boolean;
  readonly timer: NodeJS.Timeout;
}

/** One keep-alive connection. */
export class RawConnection {
  #socket: Socket | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: Pending | undefined;
  #closed = false;

  constructor(
    readonly port: number,
    readonly timeoutMs = 10_000,
  ) {}

  #open(): Socket {
    const socket = connect({ port: this.port, host: '127.0.0.1', noDelay: true });
    socket.on('data', (chunk: Buffer) => {
      // Bytes from a socket already replaced (after `connection: close`) are ignored.
      if (this.#socket !== socket) return;
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#tryParse(false);
    });
    const gone = (error?: Error) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (this.#pending) {
        // A response without a length runs to the end of the connection.
        if (!this.#tryParse(true)) {
          const p = this.#pending;
          this.#pending = undefined;
          if (p) {
            clearTimeout(p.timer);
            p.reject(error ?? new Error('connection closed before a complete response'));
          }
        }
      }
      this.#buffer = Buffer.alloc(0);
    };
    socket.on('error', (e) => gone(e));
    socket.on('close', () => gone());
    return socket;
  }

  /** Drop the connection (e.g. after bytes that held more than one request); the next request opens a new one. */
  reset(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#buffer = Buffer.alloc(0);
  }

  /** Parse one response from the buffer; returns whether the pending request was settled. */
  #tryParse(atEnd: boolean): boolean {
    const p = this.#pending;
    if (!p) return false;
    const buf = this.#buffer;
    const end = buf.indexOf(CRLFCRLF);
    if (end < 0) return false;
    const head = buf.subarray(0, end).toString('latin1');
    const lines = head.split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const bodyStart = end + 4;
    let body: Buffer;
    let consumed: number;
    const noBody =
      p.headOnly || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) {
      body = Buffer.alloc(0);
      consumed = bodyStart;
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (buf.length < bodyStart + length) return false;
      body = buf.subarray(bodyStart, bodyStart + length);
      consumed = bodyStart + length;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const chunks: Buffer[] = [];
      let at = bodyStart;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', at);
        if (lineEnd < 0) return false;
        const size = Number.parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
        if (buf.length < lineEnd + 2 + size + 2) return false;
        if (size === 0) {
          at = lineEnd + 4;
          break;
        }
        chunks.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(chunks);
      consumed = at;
    } else {
      if (!atEnd) return false;
      body = buf.subarray(bodyStart);
      consumed = buf.length;
    }
    this.#buffer = buf.subarray(consumed);
    this.#pending = undefined;
    clearTimeout(p.timer);
    // Parser errors (Fastify's clientError answer has no `connection: close`) end the connection.
    if (
      /close/i.test(headers.connection ?? '') ||
      status === 400 ||
      status === 408 ||
      status === 431
    ) {
      this.#socket?.destroy();
      this.#socket = undefined;
      this.#buffer = Buffer.alloc(0);
    }
    p.resolve({ status, headers, body, head });
    return true;
  }

  /** Send one request (its complete bytes) and wait for its response. */
  request(bytes: Buffer, headOnly = false): Promise<RawResponse> {
    if (this.#closed) return Promise.reject(new Error('connection closed by the caller'));
    if (this.#pending) return Promise.reject(new Error('one request at a time'));
    if (!this.#socket || this.#socket.destroyed) {
      this.#buffer = Buffer.alloc(0);
      this.#socket = this.#open();
    }
    const socket = this.#socket;
    return new Promise<RawResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#pending?.timer === timer) {
          this.#pending = undefined;
          socket.destroy();
          reject(new Error(`no response within ${this.timeoutMs} ms`));
        }
      }, this.timeoutMs);
      this.#pending = { resolve, reject, headOnly, timer };
      socket.write(bytes);
    });
  }

  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
    this.#socket = undefined;
  }
}

/**
 * Run `task(connection, i)` for i = 0..count-1 over `concurrency` connections to `port`,
 * until `count` tasks ran or `deadline` (ms since epoch) passed or `stop()` says so.
 * Returns the number of tasks started.
 */
export async function runPool(options: {
  readonly port: number | (() => number);
  readonly concurrency: number;
  readonly count: number;
  readonly deadline?: number;
  readonly stop?: () => boolean;
  readonly task: (connection: RawConnection, i: number) => Promise<void>;
}): Promise<number> {
  let next = 0;
  const ports = typeof options.port === 'number' ? () => options.port as number : options.port;
  const workers = Array.from({ length: options.concurrency }, async () => {
    const connection = new RawConnection(ports());
    try {
      for (;;) {
        if (next >= options.count) return;
        if (options.deadline !== undefined && Date.now() >= options.deadline) return;
        if (options.stop?.()) return;
        const i = next++;
        await options.task(connection, i);
      }
    } finally {
      connection.close();
    }
  });
  await Promise.all(workers);
  return next;
}
