import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isErrorCode, isProtectorError, ProtectorError, renderErrorCodeDocs } from './errors.js';
import { renderHealthIssueDocs } from './rules/health.js';

describe('error registry', () => {
  it('gives every code a description and an HTTP status', () => {
    for (const [code, def] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z_]+$/);
      expect(def.description.length).toBeGreaterThan(10);
      expect(def.httpStatus).toBeGreaterThanOrEqual(400);
    }
  });

  it('carries code, details and retryability into extensions', () => {
    const err = new ProtectorError('PEER_SITE_UNREACHABLE', "Site 'seattle' did not answer", {
      site: 'seattle',
    });
    expect(err.toExtensions()).toEqual({ code: 'PEER_SITE_UNREACHABLE', retryable: true, site: 'seattle' });
    expect(isProtectorError(err, 'PEER_SITE_UNREACHABLE')).toBe(true);
    expect(isProtectorError(err, 'NOT_FOUND')).toBe(false);
    expect(isErrorCode('NOPE')).toBe(false);
  });

  it.each([
    ['errors.md', renderErrorCodeDocs],
    ['health-issues.md', renderHealthIssueDocs],
  ])('keeps docs/%s in step with its registry', (file, render) => {
    const committed = readFileSync(new URL(`../docs/${file}`, import.meta.url), 'utf8');
    expect(committed).toBe(render());
  });
});
