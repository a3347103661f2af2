import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  classifyNetworkError,
  stripUrlCredentials,
  toInfrastructureError,
} from '../../src/browser/network-errors.js';
import { AuthSessionError } from '../../src/errors.js';

const goto = (code: string, url = 'https://crm.example/home') =>
  new Error(`page.goto: net::${code} at ${url}\nCall log:\n  - navigating to "${url}", waiting until "load"`);

describe('classifyNetworkError', () => {
  it.each([
    'ERR_PROXY_CONNECTION_FAILED',
    'ERR_TUNNEL_CONNECTION_FAILED',
    'ERR_PROXY_AUTH_UNSUPPORTED',
    'ERR_PROXY_AUTH_REQUESTED',
    'ERR_SOCKS_CONNECTION_FAILED',
    'ERR_PROXY_CERTIFICATE_INVALID',
  ])('%s is a proxy failure', (code) => {
    expect(classifyNetworkError(goto(code))).toBe('proxy');
  });

  it.each([
    'ERR_CONNECTION_REFUSED',
    'ERR_NAME_NOT_RESOLVED',
    'ERR_CONNECTION_RESET',
    'ERR_CONNECTION_TIMED_OUT',
    'ERR_ADDRESS_UNREACHABLE',
    'ERR_INTERNET_DISCONNECTED',
    'ERR_CONNECTION_CLOSED',
    'ERR_EMPTY_RESPONSE',
    'ERR_NETWORK_CHANGED',
  ])('%s is a network failure', (code) => {
    expect(classifyNetworkError(goto(code))).toBe('network');
  });

  it('reads Node socket errors by code and by message', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(classifyNetworkError(refused)).toBe('network');
    expect(classifyNetworkError({ code: 'ENOTFOUND' })).toBe('network');
    expect(classifyNetworkError(new Error('getaddrinfo ENOTFOUND crm.example'))).toBe('network');
    expect(classifyNetworkError('net::ERR_NAME_NOT_RESOLVED')).toBe('network');
  });

  it('treats HTTP 407 as a proxy failure', () => {
    expect(classifyNetworkError({ status: 407 })).toBe('proxy');
    expect(classifyNetworkError(new Error('HTTP/1.1 407 Proxy Authentication Required'))).toBe('proxy');
    expect(classifyNetworkError(new Error('check failed: HTTP 407'))).toBe('proxy');
    expect(classifyNetworkError({ status: 401 })).toBeUndefined();
  });

  it('walks cause chains, and a proxy failure wins over a network one', () => {
    const wrapped = new Error('task failed', {
      cause: new Error('hook', { cause: goto('ERR_NAME_NOT_RESOLVED') }),
    });
    expect(classifyNetworkError(wrapped)).toBe('network');
    const both = new Error('net::ERR_CONNECTION_RESET', { cause: goto('ERR_TUNNEL_CONNECTION_FAILED') });
    expect(classifyNetworkError(both)).toBe('proxy');
  });

  it('survives a cyclic cause chain', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(classifyNetworkError(a)).toBeUndefined();
  });

  it('counts ERR_INVALID_AUTH_CREDENTIALS as a proxy failure only when a proxy was in use', () => {
    const err = goto('ERR_INVALID_AUTH_CREDENTIALS');
    expect(classifyNetworkError(err)).toBeUndefined();
    expect(classifyNetworkError(err, { proxy: true })).toBe('proxy');
  });

  it('leaves answers from the site, timeouts and non-errors unclassified', () => {
    expect(classifyNetworkError(goto('ERR_HTTP_RESPONSE_CODE_FAILURE'))).toBeUndefined();
    expect(
      classifyNetworkError(new Error('page.waitForSelector: Timeout 30000ms exceeded.')),
    ).toBeUndefined();
    expect(classifyNetworkError(new Error('ERROR: ERR_INVALID_ARG_TYPE'))).toBeUndefined();
    expect(classifyNetworkError(undefined)).toBeUndefined();
    expect(classifyNetworkError(null)).toBeUndefined();
    expect(classifyNetworkError(42)).toBeUndefined();
    expect(classifyNetworkError(new AuthSessionError('CHECK_FAILED', 'no'))).toBeUndefined();
  });

  it('recognises its own typed errors', () => {
    expect(classifyNetworkError(new AuthSessionError('PROXY_ERROR', 'x'))).toBe('proxy');
    expect(classifyNetworkError(new AuthSessionError('TARGET_UNREACHABLE', 'x'))).toBe('network');
  });
});

describe('toInfrastructureError', () => {
  it('makes TARGET_UNREACHABLE with the code, the session and status 503', () => {
    const err = toInfrastructureError(goto('ERR_CONNECTION_REFUSED'), 'sess-1');
    expect(err).toBeInstanceOf(AuthSessionError);
    expect(err?.code).toBe('TARGET_UNREACHABLE');
    expect(err?.status).toBe(503);
    expect(err?.sessionId).toBe('sess-1');
    expect(err?.message).toContain('net::ERR_CONNECTION_REFUSED');
    expect(err?.message).not.toContain('crm.example');
  });

  it('makes PROXY_ERROR and never puts a URL or its credentials in the message or the cause', () => {
    const original = goto('ERR_PROXY_CONNECTION_FAILED', 'https://alice:s3cr3t-pw@crm.example/home');
    const err = toInfrastructureError(new Error('wrapped', { cause: original }));
    expect(err?.code).toBe('PROXY_ERROR');
    expect(err?.message).toContain('net::ERR_PROXY_CONNECTION_FAILED');
    expect(err?.message).not.toMatch(/https?:/);
    const cause = err?.cause as Error;
    const inner = cause.cause as Error;
    expect(inner.message).toContain('https://***@crm.example/home');
    expect(`${cause.message} ${cause.stack} ${inner.message} ${inner.stack}`).not.toContain('s3cr3t-pw');
    expect(JSON.stringify(err)).not.toContain('s3cr3t-pw');
  });

  it('keeps the original cause when there is nothing to redact', () => {
    const original = goto('ERR_NAME_NOT_RESOLVED');
    expect(toInfrastructureError(original)?.cause).toBe(original);
  });

  it('returns undefined for other errors and passes its own through', () => {
    expect(toInfrastructureError(new Error('boom'))).toBeUndefined();
    const own = new AuthSessionError('PROXY_ERROR', 'proxy down');
    expect(toInfrastructureError(own)).toBe(own);
  });

  it('never leaks URL credentials, whatever they are', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9._~-]{1,20}$/),
        fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=%-]{6,30}$/),
        (user, password) => {
          const err = toInfrastructureError(
            goto('ERR_TUNNEL_CONNECTION_FAILED', `http://${user}:${password}@h.example:8080/`),
          );
          const cause = err?.cause as Error;
          return !`${err?.message}\n${cause.message}\n${cause.stack}`.includes(`:${password}@`);
        },
      ),
    );
  });
});

describe('stripUrlCredentials', () => {
  it('removes userinfo from every URL and leaves the rest', () => {
    expect(
      stripUrlCredentials('at http://bob:pw@proxy:8080/ and socks5://u@h:1 and https://plain.example/a@b'),
    ).toBe('at http://***@proxy:8080/ and socks5://***@h:1 and https://plain.example/a@b');
  });
});
