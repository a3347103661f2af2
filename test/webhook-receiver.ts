/**
 * A webhook receiver for tests: node:http on 127.0.0.1 (random port) that verifies every request's
 * Standard Webhooks signature with the `standardwebhooks` package, records it, and answers as told.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** A fresh `whsec_` secret. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface ReceivedWebhook {
  readonly id: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Whether Webhook.verify accepted it. */
  readonly verified: boolean;
  /** The status it was answered with (undefined: held, or the connection was dropped). */
  status?: number;
}

/**
 * How to answer a request: a status, or 'hold' to keep it open until {@link Receiver.release} (or close).
 */
export type Answer = number | 'hold';

export interface Receiver {
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /** Requests verified and answered 2xx, counted by webhook-id (a receiver's dedupe check). */
  delivered(): Map<string, number>;
  /** Parsed bodies of the requests answered 2xx. */
  bodies(): Array<{ type: string; timestamp: string; data: Record<string, unknown> }>;
  /** Decides the answer of the next requests. */
  answer: (request: ReceivedWebhook, index: number) => Answer;
  /** Answers every held request with `status` (or drops the connections when undefined). */
  release(status?: number): void;
  close(): Promise<void>;
}

export async function startReceiver(secret: string): Promise<Receiver> {
  const verifier = new Webhook(secret);
  const held: Array<{ res: ServerResponse; entry: ReceivedWebhook }> = [];
  const receiver: Receiver = {
    url: '',
    received: [],
    delivered() {
      const counts = new Map<string, number>();
      for (const r of this.received) {
        if (r.verified && r.status !== undefined && r.status >= 200 && r.status < 300) {
          counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
        }
      }
      return counts;
    },
    bodies() {
      return this.received
        .filter((r) => r.verified && r.status !== undefined && r.status >= 200 && r.status < 300)
        .map((r) => JSON.parse(r.body));
    },
    answer: () => 200,
    release(status) {
      for (const { res, entry } of held.splice(0)) {
        if (status === undefined) {
          res.socket?.destroy();
        } else {
          entry.status = status;
          res.writeHead(status).end();
        }
      }
    },
    async close() {
      receiver.release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      let verified = false;
      try {
        verifier.verify(body, headers);
        verified = true;
      } catch {
        verified = false;
      }
      const entry: ReceivedWebhook = { id: headers['webhook-id'] ?? '', headers, body, verified };
      const index = receiver.received.length;
      receiver.received.push(entry);
      const answer = verified ? receiver.answer(entry, index) : 400;
      if (answer === 'hold') {
        held.push({ res, entry });
        return;
      }
      entry.status = answer;
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  (receiver as { url: string }).url = `http://127.0.0.1:${port}/hooks`;
  return receiver;
}
