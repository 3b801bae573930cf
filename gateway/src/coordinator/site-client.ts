/**
 * How the coordinator talks to one site: GraphQL over HTTP with a token of that site only, a timeout,
 * and errors mapped to registered codes (a site that does not answer is SITE_UNREACHABLE).
 *
 * Every request names who it acts as (`Identity`): a caller's own credential for that site, or the
 * gateway's service identity. They are different types and there is no default, so a request handler
 * never falls back to the service identity when a caller sent no token. The service identity serves
 * the gateway's own work: health checks, re-sync after an outage, and the steps of a change or an
 * operation that an authorized caller started.
 */
import type { ResultOf, TypedDocumentNode, VariablesOf } from '@graphql-typed-document-node/core';
import { InFlight, keystoneTime, type Turns, withTurn } from '@protector/platform';
import { documentForSite, ERROR_CODES, isProtectorError, type Json, ProtectorError } from '@protector/schema';
import { type DocumentNode, print } from 'graphql';
import { request } from 'undici';
import type { SiteStepInput } from './generated/site-documents.js';
import type { ServiceCredentials, SiteRecord } from './store.js';

/** A caller's own Keystone token for one site: what a request handler acts with at that site. */
export class CallerCredential {
  readonly kind = 'caller';
  constructor(
    /** The site (name) whose Keystone issued the token. */
    readonly site: string,
    readonly token: string,
  ) {}
}

/** The gateway's own identity at a site (the service credentials registered for it). */
export interface ServiceIdentity {
  readonly kind: 'service';
}

/** The gateway's service identity; see the module comment for when it may be used. */
export const SERVICE: ServiceIdentity = Object.freeze({ kind: 'service' as const });

/** Who a request to a site acts as. */
export type Identity = CallerCredential | ServiceIdentity;

export interface TokenInfo {
  readonly userId: string;
  readonly userName: string;
  readonly projectId: string | null;
  readonly roles: readonly string[];
  readonly expiresAt: number;
  /**
   * Who the token acts as, when that is all it carries: a plain project-scoped token (no application
   * credential, trust or OAuth delegation, whose tokens may be narrower than their user's roles) gets
   * its user, project and roles; any other gets null. Two tokens with one `caller` have the same
   * authority at this site.
   */
  readonly caller: string | null;
}

/** Token checks kept per site (each until its token expires, at most 5 minutes). */
const MAX_CHECKS_KEPT = 10_000;
/** Checks started for `knownCaller` at once per site. */
const MAX_BACKGROUND_CHECKS = 64;

/** Keystone v3 of one site: password auth for the service identity, and token validation. */
export class SiteKeystone {
  private service: { token: string; expiresAt: number } | null = null;
  private readonly validated = new Map<string, { info: TokenInfo; until: number }>();

  constructor(
    private readonly authUrl: string,
    private readonly credentials: () => Promise<ServiceCredentials | null>,
    private readonly timeoutMs: number,
  ) {}

  private url(path: string) {
    return `${this.authUrl.replace(/\/+$/, '').replace(/\/v3$/, '')}/v3${path}`;
  }

  /** A token of the site's service identity, refreshed a minute before it expires. */
  async serviceToken(): Promise<string> {
    if (this.service && this.service.expiresAt - 60_000 > Date.now()) return this.service.token;
    const creds = await this.credentials();
    if (!creds) {
      throw new ProtectorError(
        'CONFIG_INVALID',
        'No service credentials are registered for this site; register it again with serviceCredentials (a user with the admin and service roles).',
      );
    }
    const res = await this.call(
      'POST',
      '/auth/tokens',
      {},
      {
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: {
                name: creds.username,
                domain: { name: creds.userDomainName },
                password: creds.password,
              },
            },
          },
          scope: { project: { name: creds.projectName, domain: { name: creds.projectDomainName } } },
        },
      },
    );
    if (res.status !== 201) {
      throw new ProtectorError(
        'UNAUTHENTICATED',
        `The site's Keystone refused the service credentials (HTTP ${res.status}).`,
      );
    }
    const token = res.headers['x-subject-token'];
    const body = res.body as { token?: { expires_at?: string } };
    this.service = {
      token: String(token),
      expiresAt: keystoneTime(body.token?.expires_at ?? '') || Date.now() + 600_000,
    };
    return this.service.token;
  }

  /** Who a user token belongs to, as the site's Keystone says; cached until expiry (at most 5 min). */
  async validate(token: string): Promise<TokenInfo> {
    const hit = this.validated.get(token);
    if (hit && hit.until > Date.now()) return hit.info;
    // Many requests (or subscribers) with one token wait for one check.
    let pending = this.validating.get(token);
    if (!pending) {
      pending = this.check(token).finally(() => this.validating.delete(token));
      this.validating.set(token, pending);
    }
    return pending;
  }

  private readonly validating = new Map<string, Promise<TokenInfo>>();

  /**
   * The `caller` of a token this Keystone accepted and whose check has not expired, without waiting:
   * null for a token not checked yet (its check starts, for the next time), refused, or not plain.
   */
  knownCaller(token: string): string | null {
    const hit = this.validated.get(token);
    if (hit && hit.until > Date.now()) return hit.info.caller;
    // Bounded: a flood of tokens never checked (or bogus) does not become a flood of checks.
    if (!this.validating.has(token) && this.validating.size < MAX_BACKGROUND_CHECKS)
      this.validate(token).catch(() => undefined);
    return null;
  }

  private async check(token: string): Promise<TokenInfo> {
    const res = await this.call('GET', '/auth/tokens?nocatalog=1', {
      'x-auth-token': await this.serviceToken(),
      'x-subject-token': token,
    });
    if (res.status === 404 || res.status === 401) {
      throw new ProtectorError(
        'UNAUTHENTICATED',
        "The token is not valid at this site's Keystone; get a new one.",
      );
    }
    if (res.status !== 200)
      throw new ProtectorError('CLOUD_ERROR', `Keystone token validation failed (HTTP ${res.status}).`);
    const t = (res.body as { token: Json }).token;
    const user = t.user as Json;
    const projectId = ((t.project as Json | undefined)?.id as string | undefined) ?? null;
    const roles = ((t.roles as Json[] | undefined) ?? []).map((r) => String(r.name));
    const delegated = ['application_credential', 'OS-TRUST:trust', 'OS-OAUTH1', 'OS-OAUTH2'].some((k) =>
      Object.hasOwn(t, k),
    );
    const info: TokenInfo = {
      userId: String(user.id),
      userName: String(user.name),
      projectId,
      roles,
      expiresAt: keystoneTime(String(t.expires_at)),
      caller:
        projectId && !delegated ? JSON.stringify([String(user.id), projectId, [...roles].sort()]) : null,
    };
    this.remember(token, { info, until: Math.min(info.expiresAt, Date.now() + 300_000) });
    return info;
  }

  /** Keeps a check; past `MAX_CHECKS_KEPT`, the expired ones go, then the oldest. */
  private remember(token: string, check: { info: TokenInfo; until: number }) {
    this.validated.delete(token);
    this.validated.set(token, check);
    if (this.validated.size <= MAX_CHECKS_KEPT) return;
    const now = Date.now();
    for (const [t, c] of this.validated) if (c.until <= now) this.validated.delete(t);
    for (const t of this.validated.keys()) {
      if (this.validated.size <= MAX_CHECKS_KEPT) break;
      this.validated.delete(t);
    }
  }

  private async call(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: unknown) {
    try {
      const res = await request(this.url(path), {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const text = await res.body.text();
      return {
        status: res.statusCode,
        headers: res.headers as Record<string, string>,
        body: text ? (JSON.parse(text) as unknown) : null,
      };
    } catch (err) {
      throw new ProtectorError(
        'SITE_UNREACHABLE',
        `Keystone at ${this.authUrl} did not answer: ${(err as Error).message}`,
        {},
        { cause: err },
      );
    }
  }
}

/** GraphQL calls to one site service. */
export class SiteClient {
  readonly keystone: SiteKeystone;

  constructor(
    readonly site: SiteRecord,
    credentials: () => Promise<ServiceCredentials | null>,
    private readonly timeoutMs: number,
    /** The site's turns, shared with the gateway's planner fetches: reads for callers take one. */
    private readonly turns: Turns | null = null,
  ) {
    this.keystone = new SiteKeystone(site.authUrl, credentials, timeoutMs);
  }

  /**
   * Runs one of the coordinator's site documents (`documents/*.graphql`, typed from the site SDL) as
   * `as` and returns what the site answered under its root field.
   */
  async query<R, V>(
    document: TypedDocumentNode<{ here: R }, V>,
    variables: V,
    as: Identity,
    timeoutMs = this.timeoutMs,
  ): Promise<R> {
    const source = this.source(document);
    const send = () => this.send<{ here: R }>(source, variables as Json, as, timeoutMs);
    if (as.kind !== 'caller') return (await untilTaken(send, timeoutMs)).here;
    // A caller's read waits for a turn at the site (OVERLOADED when none comes in time); the gateway's
    // own work (health checks, the steps of operations) is never refused for load. The same read by
    // the same caller in flight is sent once (many subscribers of one user subscribe at once), and each
    // caller gets its own copy: the same token, or tokens this site's Keystone vouched for as one
    // user, project and roles (`SiteKeystone.knownCaller`).
    const read = () => withTurn(this.turns, Math.floor(timeoutMs / 2), this.site.name, send);
    const caller = this.keystone.knownCaller(as.token);
    const key = `${caller ? `caller\u0000${caller}` : `token\u0000${as.token}`}\u0000${source}\u0000${JSON.stringify(variables)}`;
    // Another token of the caller was sent and refused (revoked meanwhile): this one decides for itself.
    const refused = (o: PromiseSettledResult<unknown>) =>
      o.status === 'rejected' && isProtectorError(o.reason, 'UNAUTHENTICATED');
    return ((await this.reading.run(key, read, caller ? refused : undefined)) as { here: R }).here;
  }

  /** Runs one site-local step (service role): a `documents/site-steps.graphql` mutation, typed by its input. */
  async step<D extends StepDocument>(
    document: D,
    key: { operationId: string; stepKey: string; attempt?: number },
    input: StepInputOf<D>,
    timeoutMs?: number,
  ): Promise<StepResultOf<D>> {
    const here = await this.query(
      document as StepDocument,
      { step: { operationId: key.operationId, stepKey: key.stepKey, attempt: key.attempt ?? 1 }, input },
      SERVICE,
      timeoutMs ?? Math.max(this.timeoutMs, 600_000),
    );
    return Object.values(here)[0] as StepResultOf<D>;
  }

  private readonly sources = new WeakMap<DocumentNode, string>();
  /** Callers' reads in flight, by token, document and variables. */
  private readonly reading = new InFlight<unknown>();

  /** The document as this site is sent it: the template's root field `here` aliased onto the site key. */
  private source(document: DocumentNode): string {
    let text = this.sources.get(document);
    if (text === undefined) {
      text = print(documentForSite(document, this.site.key, { keepResponseKey: true }));
      this.sources.set(document, text);
    }
    return text;
  }

  private async send<T>(query: string, variables: Json, as: Identity, timeoutMs: number): Promise<T> {
    if (as.kind === 'caller' && as.site !== this.site.name) {
      throw new ProtectorError(
        'INTERNAL',
        `A credential of site '${as.site}' was about to be sent to site '${this.site.name}'; refused.`,
      );
    }
    const auth = as.kind === 'caller' ? as.token : await this.keystone.serviceToken();
    let status: number;
    let text: string;
    let retryAfter: number;
    try {
      const res = await request(this.site.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-auth-token': auth },
        body: JSON.stringify({ query, variables }),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      retryAfter = Number(res.headers['retry-after']);
      text = await res.body.text();
    } catch (err) {
      // The site took the request and did not answer in time: slow or overloaded, not gone.
      const code = (err as { code?: string }).code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw new ProtectorError(
          'SITE_TIMEOUT',
          `Site '${this.site.name}' is reachable but did not answer within ${timeoutMs} ms (slow or overloaded); retry later.`,
          { site: this.site.name },
          { cause: err },
        );
      }
      throw new ProtectorError(
        'SITE_UNREACHABLE',
        `Site '${this.site.name}' is unreachable: ${(err as Error).message}`,
        { site: this.site.name },
        { cause: err },
      );
    }
    let body: { data?: T; errors?: { message: string; extensions?: Json }[] };
    try {
      body = JSON.parse(text);
    } catch {
      throw new ProtectorError(
        'SITE_UNREACHABLE',
        `Site '${this.site.name}' answered HTTP ${status} without GraphQL: ${text.slice(0, 200)}`,
        {
          site: this.site.name,
        },
      );
    }
    const first = body.errors?.[0];
    if (first) {
      const code = String(first.extensions?.code ?? 'INTERNAL');
      const { code: _c, retryable: _r, stacktrace: _s, ...details } = first.extensions ?? {};
      throw new ProtectorError(
        (code in ERROR_CODE_SET ? code : 'INTERNAL') as never,
        `Site '${this.site.name}': ${first.message}`,
        {
          ...details,
          site: this.site.name,
          ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
        },
      );
    }
    return body.data as T;
  }
}

const ERROR_CODE_SET: Record<string, unknown> = ERROR_CODES;

/** Refusals a site makes before it acts on a request: its rate limit per caller, its requests at once. */
const REFUSED_UNACTED = new Set(['RATE_LIMITED', 'OVERLOADED']);

/**
 * Sends the gateway's own request (a step of an operation, its reads, a health check) again while the
 * site refuses it before acting on it (429 RATE_LIMITED, 503 OVERLOADED), after the Retry-After the site
 * named (a little more, so that many operations refused together do not come back together), for as
 * long as `timeoutMs` from the first try allows: a site's limits slow an operation down; they do not fail
 * it. A caller's own requests are not sent again (the refusal is theirs to see), but for the answer to a
 * change already made (see `GroupChanges`).
 */
export async function untilTaken<T>(send: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await send();
    } catch (err) {
      if (!(err instanceof ProtectorError) || !REFUSED_UNACTED.has(err.code)) throw err;
      const seconds = Number(err.details.retryAfterSeconds ?? 1);
      const waitMs = Math.max(100, seconds * 1000) * (1 + Math.random() / 2);
      if (Date.now() + waitMs >= deadline) throw err;
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

/** A step document: `mutation X($step: SiteStepInput!, $input: ...!) { here { <step>(...) { ... } } }`. */
// biome-ignore lint/suspicious/noExplicitAny: matches any step's result and input types
type StepDocument = TypedDocumentNode<{ here: Record<string, any> }, { step: SiteStepInput; input: any }>;
/** The `input` a step document takes. */
export type StepInputOf<D extends StepDocument> = VariablesOf<D>['input'];
/** What a step document's one field returns. */
export type StepResultOf<D extends StepDocument> = D extends StepDocument
  ? ResultOf<D>['here'][keyof ResultOf<D>['here']]
  : never;
