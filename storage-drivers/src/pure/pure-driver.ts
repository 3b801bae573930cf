/** PureStorageDriver: real FlashArrays over REST 2.x (HTTPS, undici). */
import { type Clock, systemClock } from '@protector/platform';
import { ArrayClient, type RetryPolicy } from '../client/array-client.js';
import { HttpArrayTransport } from '../client/http-transport.js';
import { FlashArrayDriver, type StorageLog, stderrLog } from '../driver.js';

export interface PureStorageDriverOptions {
  /** `[storage] primary_array_url`: HTTPS management URL of this site's array. */
  readonly primaryArrayUrl: string;
  readonly primaryArrayApiToken: string;
  readonly secondaryArrayUrl: string;
  readonly secondaryArrayApiToken: string;
  /** PEM CA bundle for the arrays' certificates. */
  readonly caBundle?: string;
  /** @default true */
  readonly verifyTls?: boolean;
  /** @default 30000 */
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly log?: StorageLog;
  /** Debugging only: allow `http://` URLs (fa-sim --http). Production configs refuse them. */
  readonly allowInsecureHttp?: boolean;
  /** Retry backoff waits on it; it names default snapshot suffixes and measures lag. @default systemClock */
  readonly clock?: Clock;
}

/** A client of the array at `url` logging in with `apiToken`, over its own HTTPS pool and session. */
function arrayClient(opts: PureStorageDriverOptions, url: string, apiToken: string): ArrayClient {
  const transport = new HttpArrayTransport({
    url,
    apiToken,
    caBundle: opts.caBundle,
    verifyTls: opts.verifyTls,
    timeoutMs: opts.timeoutMs,
    allowInsecureHttp: opts.allowInsecureHttp,
  });
  return new ArrayClient(transport, { retry: opts.retry, clock: opts.clock ?? systemClock });
}

export class PureStorageDriver extends FlashArrayDriver {
  readonly name = 'pure' as const;
  /** Clients logged in with a replication policy's token, by role and token. */
  private readonly policyClients = new Map<string, ArrayClient>();

  constructor(private readonly opts: PureStorageDriverOptions) {
    super(
      {
        primary: arrayClient(opts, opts.primaryArrayUrl, opts.primaryArrayApiToken),
        secondary: arrayClient(opts, opts.secondaryArrayUrl, opts.secondaryArrayApiToken),
      },
      opts.log ?? stderrLog,
      opts.clock ?? systemClock,
    );
  }

  protected clientWithToken(role: 'primary' | 'secondary', token: string): ArrayClient {
    const defaultToken =
      role === 'primary' ? this.opts.primaryArrayApiToken : this.opts.secondaryArrayApiToken;
    if (token === defaultToken) return this.clients[role];
    const key = `${role}\n${token}`;
    let client = this.policyClients.get(key);
    if (!client) {
      client = arrayClient(
        this.opts,
        role === 'primary' ? this.opts.primaryArrayUrl : this.opts.secondaryArrayUrl,
        token,
      );
      this.policyClients.set(key, client);
    }
    return client;
  }

  override async close(): Promise<void> {
    await Promise.all([...this.policyClients.values()].map((c) => c.transport.close()));
    this.policyClients.clear();
    await super.close();
  }

  protected hint(role: 'primary' | 'secondary', code: string): string {
    const url = `[storage] ${role}_array_url`;
    if (code === 'STORAGE_AUTH_FAILED')
      return `the API token in [storage] ${role}_array_api_token has expired or been revoked, or belongs to another array: create a new token on the array, set it and restart`;
    if (code === 'STORAGE_RATE_LIMITED') return 'the array is rate limiting this host; it is retried';
    return `check that ${url} is the array's HTTPS management address and that no firewall blocks HTTPS from this host to it`;
  }

  protected initializedMessage(): string {
    const host = (url: string) => new URL(url).hostname;
    return `PureStorageDriver initialized: primary=${host(this.opts.primaryArrayUrl)} secondary=${host(this.opts.secondaryArrayUrl)}`;
  }
}
