/**
 * Where the integration tests find Redis and PostgreSQL, and what happens when they are not there: in CI
 * (`CI` set) a missing service fails the test file loudly; locally the file is skipped with a message saying
 * how to start the service.
 */
import { connect } from 'node:net';

export const REDIS_URL = process.env.AUTH_SESSIONS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const POSTGRES_URL =
  process.env.AUTH_SESSIONS_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

const HOW_TO_START: Record<'redis' | 'postgres', string> = {
  redis: 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
  postgres:
    'pg_ctlcluster --skip-systemctl-redirect <version> main start (user postgres, database "test", trust auth on 127.0.0.1)',
};

/** Answers one request on a raw TCP connection, or undefined when the port does not answer in time. */
function probe(host: string, port: number, payload: Buffer, timeoutMs = 1500): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (value: Buffer | undefined) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('connect', () => socket.write(payload));
    socket.once('data', (data) => done(data));
  });
}

async function isUp(service: 'redis' | 'postgres'): Promise<boolean> {
  if (service === 'redis') {
    const url = new URL(REDIS_URL);
    const reply = await probe(url.hostname, Number(url.port || 6379), Buffer.from('PING\r\n'));
    return reply?.toString().startsWith('+PONG') === true;
  }
  const url = new URL(POSTGRES_URL);
  // An SSLRequest: any PostgreSQL answers it with one byte, 'S' or 'N'.
  const ssl = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
  const reply = await probe(url.hostname, Number(url.port || 5432), ssl);
  return reply !== undefined && (reply[0] === 0x53 || reply[0] === 0x4e);
}

/**
 * True when the service answers. When it does not: throws under CI, else warns once and returns false (the
 * caller skips its tests).
 */
export async function serviceAvailable(service: 'redis' | 'postgres'): Promise<boolean> {
  if (await isUp(service)) return true;
  const where = service === 'redis' ? REDIS_URL : POSTGRES_URL.replace(/\/\/[^@/]*@/, '//');
  const message = `${service} is not reachable at ${where}; start it with: ${HOW_TO_START[service]}`;
  if (process.env.CI) throw new Error(`CI needs ${message}`);
  console.warn(`[skipped] ${message}`);
  return false;
}
