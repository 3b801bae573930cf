import { describe, expect, it } from 'vitest';
import { contextFromConnectionParams, contextFromHeaders, hasAnyToken, tokenForSite } from './context.js';

describe('contextFromHeaders', () => {
  it('reads one token per site and a default, and picks per site', () => {
    const ctx = contextFromHeaders({
      'x-site-token-boston': 'tok-b',
      'X-Site-Token-Seattle': 'Bearer tok-s',
      authorization: 'Bearer tok-default',
      'x-request-id': 'req-1',
    });
    expect(ctx.siteTokens).toEqual({ boston: 'tok-b', seattle: 'tok-s' });
    expect(ctx.defaultToken).toBe('tok-default');
    expect(ctx.requestId).toBe('req-1');
    expect(tokenForSite(ctx, 'boston')).toBe('tok-b');
    expect(tokenForSite(ctx, 'seattle')).toBe('tok-s');
    expect(tokenForSite(ctx, 'denver')).toBe('tok-default');
  });

  it('takes X-Auth-Token as the default (before Authorization, as the sites do)', () => {
    const ctx = contextFromHeaders({ 'x-auth-token': 'tok-x', authorization: 'Bearer tok-a' });
    expect(ctx.defaultToken).toBe('tok-x');
  });

  it('has no token when none is sent, and generates a request id', () => {
    const ctx = contextFromHeaders({
      'content-type': 'application/json',
      'x-request-id': 'bad id with spaces',
    });
    expect(hasAnyToken(ctx)).toBe(false);
    expect(tokenForSite(ctx, 'boston')).toBeNull();
    expect(ctx.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('accepts Fetch/HeaderMap style headers', () => {
    const ctx = contextFromHeaders(new Map([['X-Site-Token-boston', 'tok-b']]));
    expect(ctx.siteTokens).toEqual({ boston: 'tok-b' });
  });
});

describe('contextFromConnectionParams', () => {
  it('reads siteTokens, authorization and token', () => {
    const ctx = contextFromConnectionParams({
      siteTokens: { boston: 'tok-b', seattle: 42 },
      authorization: 'Bearer tok-a',
    });
    expect(ctx.siteTokens).toEqual({ boston: 'tok-b' });
    expect(ctx.defaultToken).toBe('tok-a');
    expect(contextFromConnectionParams({ token: 'tok-t', authorization: 'Bearer tok-a' }).defaultToken).toBe(
      'tok-t',
    );
  });

  it('accepts header-style params and nothing at all', () => {
    const ctx = contextFromConnectionParams({ 'X-Site-Token-boston': 'tok-b', 'X-Auth-Token': 'tok-x' });
    expect(ctx.siteTokens).toEqual({ boston: 'tok-b' });
    expect(ctx.defaultToken).toBe('tok-x');
    expect(hasAnyToken(contextFromConnectionParams(undefined))).toBe(false);
    expect(hasAnyToken(contextFromConnectionParams({ siteTokens: {} }))).toBe(false);
  });
});
