/**
 * The pure driver's transport: FlashArray REST 2.x over HTTPS with undici. Negotiates the API version,
 * logs in with the `api-token` header, sends the `x-auth-token` session on every call and logs in again
 * once when the array answers 401. TLS is verified, against an optional CA bundle.
 */
import { readFileSync } from 'node:fs';
import { arrayUrlProblem, ProtectorError, urlProblem } from '@protector/schema';
import { Agent, request, errors as undiciErrors } from 'undici';
import { type ArrayTransport, ArrayUnreachableError } from './array-client.js';
import type { ArrayRequest, ArrayResponse } from './wire.js';

/** Newest REST version this driver speaks; older 2.x arrays are used at their own newest version. */
export const MAX_REST_VERSION = '2.26';
const MIN_REST_VERSION = '2.2';

export interface HttpTransportOptions {
  /** `https://host[:port]`. Plain `http://` only with `allowInsecureHttp` (debugging against fa-sim). */
  readonly url: string;
  readonly apiToken: string;
  /** PEM file of the CA that signed the array's certificate; the system store when absent. */
  readonly caBundle?: string;
  /** @default true */
  readonly verifyTls?: boolean;
  /** Per-request timeout. @default 30000 */
  readonly timeoutMs?: number;
  readonly allowInsecureHttp?: boolean;
}

const versionKey = (v: string) => v.split('.').map(Number) as [number, number];
const compareVersions = (a: string, b: string) => {
  const [a1, a2] = versionKey(a);
  const [b1, b2] = versionKey(b);
  return a1 - b1 || a2 - b2;
};

export class HttpArrayTransport implements ArrayTransport {
  readonly endpoint: string;
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private version: string | null = null;
  private session: string | null = null;
  private loggingIn: Promise<void> | null = null;

  constructor(private readonly opts: HttpTransportOptions) {
    const problem = opts.allowInsecureHttp ? urlProblem(opts.url) : arrayUrlProblem(opts.url);
    if (problem) {
      throw new ProtectorError(
        'CONFIG_INVALID',
        `Array URL '${opts.url}' ${problem}: FlashArray management is served over TLS, e.g. https://flasharray-a.example.com.`,
        { url: opts.url },
      );
    }
    const url = new URL(opts.url);
    this.endpoint = url.origin;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.agent = new Agent({
      connect: {
        ca: opts.caBundle ? readFileSync(opts.caBundle) : undefined,
        rejectUnauthorized: opts.verifyTls ?? true,
        timeout: this.timeoutMs,
      },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connections: 16,
      keepAliveTimeout: 10_000,
    });
  }

  /** The negotiated REST version, e.g. `2.26`. */
  get restVersion(): string | null {
    return this.version;
  }

  async send(req: ArrayRequest): Promise<ArrayResponse> {
    await this.ensureSession();
    let res = await this.raw(req);
    if (res.status === 401) {
      // Session expired or revoked: log in again once, then repeat the request.
      this.session = null;
      await this.ensureSession();
      res = await this.raw(req);
    }
    return res;
  }

  async close(): Promise<void> {
    if (this.session && this.version) {
      await this.call('POST', `/api/${this.version}/logout`, { 'x-auth-token': this.session }).catch(
        () => undefined,
      );
    }
    await this.agent.close();
  }

  private ensureSession(): Promise<void> {
    if (this.session) return Promise.resolve();
    this.loggingIn ??= this.login().finally(() => {
      this.loggingIn = null;
    });
    return this.loggingIn;
  }

  private async login(): Promise<void> {
    if (!this.version) {
      const res = await this.call('GET', '/api/api_version', {});
      const versions = ((res.body as { version?: string[] }).version ?? []).filter(
        (v) => v.startsWith('2.') && compareVersions(v, MAX_REST_VERSION) <= 0,
      );
      const best = versions.sort(compareVersions).at(-1);
      if (!best || compareVersions(best, MIN_REST_VERSION) < 0) {
        throw new ProtectorError(
          'STORAGE_ERROR',
          `Array at ${this.endpoint} offers no REST 2.x version this driver supports (needs ${MIN_REST_VERSION} to ${MAX_REST_VERSION}).`,
          { array: this.endpoint },
        );
      }
      this.version = best;
    }
    const res = await this.call('POST', `/api/${this.version}/login`, { 'api-token': this.opts.apiToken });
    const token = res.headers['x-auth-token'];
    if (res.status !== 200 || !token) {
      const message =
        (res.body as { errors?: { message?: string }[] })?.errors?.[0]?.message ?? `HTTP ${res.status}`;
      throw new ProtectorError(
        'STORAGE_AUTH_FAILED',
        `Login to array at ${this.endpoint} failed: ${message}. Check the API token in [storage] or in the replication policy.`,
        { array: this.endpoint, status: res.status },
      );
    }
    this.session = token;
  }

  private raw(req: ArrayRequest): Promise<ArrayResponse> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query)) if (v !== undefined) qs.set(k, v);
    const query = qs.size ? `?${qs}` : '';
    const headers: Record<string, string> = { 'x-auth-token': this.session ?? '' };
    return this.call(req.method, `/api/${this.version}${req.path}${query}`, headers, req.body);
  }

  private async call(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<ArrayResponse & { headers: Record<string, string> }> {
    try {
      const res = await request(`${this.endpoint}${path}`, {
        method: method as 'GET',
        dispatcher: this.agent,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.body.text();
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers))
        if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(',') : v;
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = { errors: [{ message: text.slice(0, 200) }] };
      }
      return { status: res.statusCode, body: parsed, headers: flat };
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (UNTRUSTED_CERTIFICATE.has(code)) {
        // The product documentation's troubleshooting: an array whose certificate this site does not trust.
        throw new ArrayUnreachableError(
          `the array's TLS certificate is not trusted (${code}: ${(err as Error).message}); set [storage] ca_bundle to the CA certificate that signs it`,
          true,
          { cause: err },
        );
      }
      const notSent = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'UND_ERR_CONNECT_TIMEOUT';
      if (err instanceof undiciErrors.UndiciError || code.startsWith('E') || code.startsWith('UND_')) {
        throw new ArrayUnreachableError(`${code || 'error'}: ${(err as Error).message}`, notSent, {
          cause: err,
        });
      }
      throw err;
    }
  }
}

/** Node's TLS verification failures: the request never left, and the fix is `ca_bundle` (or a valid certificate). */
const UNTRUSTED_CERTIFICATE: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
