import { request } from 'node:http';
import { createRequire } from 'node:module';
import { ApolloServer } from '@apollo/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGraphQLHttpServer } from './http-server.js';
import {
  DEFAULT_QUERY_LIMITS,
  introspectionGuard,
  maskInternalError,
  parseLimits,
  type QueryLimits,
  queryLimitRules,
  sanitizeClientError,
  withoutEchoedValues,
} from './limits.js';

// Apollo Server runs graphql's CommonJS build while vite resolves `import 'graphql'` to the ESM one:
// build the schema with the same (CJS) instance.
const { buildSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const schema = buildSchema(`
  type Node { id: ID! child: Node name: String }
  type Query { node: Node sites: [Node!]! }
`);
const limits: QueryLimits = { ...DEFAULT_QUERY_LIMITS, maxDepth: 6, maxAliases: 5, maxTokens: 400 };

interface Ctx {
  readonly token: string | null;
}

let url = '';
let keptIdleMs = 0;
let stop: () => Promise<void> = async () => {};

beforeAll(async () => {
  const apollo = new ApolloServer<Ctx>({
    schema,
    rootValue: { node: { id: '1', name: 'n' }, sites: [] },
    validationRules: queryLimitRules(limits),
    parseOptions: parseLimits(limits),
    hideSchemaDetailsFromClientErrors: true,
    formatError: (formatted, error) => sanitizeClientError(formatted, error),
    plugins: [introspectionGuard<Ctx>(limits.introspection, async (ctx) => ctx.token === 'good')],
  });
  await apollo.start();
  const server = await startGraphQLHttpServer<Ctx>({
    apollo,
    port: 0,
    rateLimit: { perSecond: 1, burst: 40 },
    context: async (req) => ({ token: (req.headers['x-auth-token'] as string | undefined) ?? null }),
  });
  url = server.url;
  keptIdleMs = server.server.keepAliveTimeout;
  stop = async () => {
    await server.stop();
    await apollo.stop();
  };
});
afterAll(() => stop());

async function post(query: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      data?: unknown;
      errors?: { message: string; extensions: { code: string } }[];
    },
  };
}

const nested = (levels: number) =>
  `{ ${'node { child { '.repeat(levels / 2)}id${' } }'.repeat(levels / 2)} }`;

describe('query limits', () => {
  it('answers a document within every limit', async () => {
    const { status, body } = await post('{ a: node { id } b: node { name } }');
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });

  it.each([
    ['depth', nested(20), /depth limit of 6/],
    [
      'aliases',
      `{ ${Array.from({ length: 8 }, (_, i) => `a${i}: sites { id }`).join(' ')} }`,
      /aliases limit of 5/i,
    ],
    ['tokens', `{ ${Array.from({ length: 200 }, (_, i) => `a${i}: sites { id }`).join(' ')} }`, /400 tokens/],
    ['nesting far beyond the stack', nested(2000), /limit|tokens/i],
  ])('refuses too many %s with HTTP 400 QUERY_TOO_COMPLEX naming the limit', async (_what, query, message) => {
    const { status, body } = await post(query);
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions.code).toBe('QUERY_TOO_COMPLEX');
    expect(body.errors?.[0]?.message).toMatch(message);
  });

  it('gives no field suggestions', async () => {
    const { body } = await post('{ nod { id } }');
    expect(body.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  it('lets only an authenticated caller introspect (introspection = authenticated)', async () => {
    const anonymous = await post('{ __schema { queryType { name } } }');
    expect(anonymous.status).toBe(403);
    expect(anonymous.body.errors?.[0]?.extensions.code).toBe('INTROSPECTION_DISABLED');
    const known = await post('{ __schema { queryType { name } } }', { 'x-auth-token': 'good' });
    expect(known.status).toBe(200);
    expect(known.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });
});

describe('error messages', () => {
  it.each([
    ['String cannot represent a non string value: 12345', 'String cannot represent a non string value.'],
    [
      'Variable "$id" got invalid value { token: "tok-7" }; ID cannot represent value: { token: "tok-7" }',
      'Variable "$id" got an invalid value; ID cannot represent value.',
    ],
    [
      'Variable "$p" got invalid value 98765 at "p.token"; String cannot represent a non string value: 98765',
      'Variable "$p" got an invalid value at "p.token"; String cannot represent a non string value.',
    ],
    ['Int cannot represent non-integer value: "secret-abc"', 'Int cannot represent non-integer value.'],
    ['Expected value of type "Int!", found "tok-123".', 'Expected value of type "Int!".'],
    [
      'Variable "$t" got invalid value "tok-9" at "t[0]"; Value "tok-9" does not exist in "OperationType" enum.',
      'Variable "$t" got an invalid value at "t[0]"; The value does not exist in "OperationType" enum.',
    ],
    [
      'Enum "OperationType" cannot represent non-enum value: "tok-8".',
      'Enum "OperationType" cannot represent non-enum value.',
    ],
  ])('never echo a value the client sent: %j', (message, expected) => {
    expect(withoutEchoedValues(message)).toBe(expected);
  });
});

describe('internal errors', () => {
  it('reach the client as an id, and the log with the details under that id', () => {
    const logged: string[] = [];
    const out = maskInternalError(
      { message: 'SQLITE_CORRUPT at /var/lib/protector/site.sqlite', extensions: { code: 'INTERNAL' } },
      new Error('SQLITE_CORRUPT'),
      (m) => logged.push(m),
    );
    const id = /id ([0-9a-f-]{36})/.exec(out.message)?.[1];
    expect(out.message).not.toMatch(/SQLITE|var\/lib/);
    expect(logged[0]).toContain(`internal error ${id}: SQLITE_CORRUPT at /var/lib/protector/site.sqlite`);
    const coded = { message: 'No such group', extensions: { code: 'NOT_FOUND' } };
    expect(maskInternalError(coded, null, () => {})).toBe(coded);
  });
});

describe('HTTP refusals carry registered codes', () => {
  it('a connection that sent an oversized body is closed, so the next request does not wait behind it', async () => {
    const { Agent, request } = await import('undici');
    const agent = new Agent({ connections: 1 });
    try {
      const big = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: 'x'.repeat(2 * 1024 * 1024),
        dispatcher: agent,
      }).catch((err: Error) => ({ statusCode: 0, error: err }));
      if ('body' in big) await big.body.dump();
      const next = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-auth-token': 'after-413' },
        body: JSON.stringify({ query: '{ sites { id } }' }),
        dispatcher: agent,
        // A request stuck behind the unread body would wait out the server's keep-alive instead.
        headersTimeout: 5000,
      });
      expect(next.statusCode).toBe(200);
      await next.body.dump();
    } finally {
      await agent.close();
    }
  });

  it('a caller over its rate limit gets 429 RATE_LIMITED with Retry-After; another caller does not', async () => {
    const statuses: number[] = [];
    let last: Response | null = null;
    for (let i = 0; i < 60; i++) {
      last = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-auth-token': 'flood' },
        body: JSON.stringify({ query: '{ sites { id } }' }),
      });
      statuses.push(last.status);
      if (last.status === 429) break;
    }
    expect(statuses.at(-1)).toBe(429);
    expect(last?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(
      ((await last!.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code,
    ).toBe('RATE_LIMITED');
    const other = await post('{ sites { id } }', { 'x-auth-token': 'calm' });
    expect(other.status).toBe(200);
  });

  it.each([
    [
      'a body that is not JSON',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' },
      400,
      'BAD_REQUEST',
    ],
    ['a method GraphQL does not take', { method: 'DELETE' }, 405, 'METHOD_NOT_ALLOWED'],
    [
      'a body over the size limit',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2 * 1024 * 1024) },
      413,
      'PAYLOAD_TOO_LARGE',
    ],
  ])('%s', async (_what, init, status, code) => {
    const res = await fetch(url, init as RequestInit);
    expect(res.status).toBe(status);
    expect(
      ((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code,
    ).toBe(code);
  });
});

describe('keep-alive', () => {
  const headersOf = (connection?: string) =>
    new Promise<string[]>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(connection ? { connection } : {}) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.rawHeaders));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ query: '{ node { id } }' }));
    });
  const values = (raw: string[], name: string) =>
    raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === name);

  it('tells clients to reuse an idle connection for far less time than it keeps one open', async () => {
    const raw = await headersOf();
    expect(values(raw, 'connection')).toEqual(['keep-alive']);
    expect(values(raw, 'keep-alive')).toEqual(['timeout=10']);
    // undici reuses it for the advertised time less 2 s; the server keeps it 20 s longer than that.
    expect(keptIdleMs).toBeGreaterThanOrEqual(10_000 + 20_000);
  });

  it('advertises nothing to a client that asked to close', async () => {
    const raw = await headersOf('close');
    expect(values(raw, 'connection')).toEqual(['close']);
    expect(values(raw, 'keep-alive')).toEqual([]);
  });
});
