/** PureStorageDriver: real FlashArrays over REST 2.x (HTTPS, undici). */
import { type Clock, systemClock } from '@protector/platform';
import { ArrayClient, type RetryPolicy } from '../client/array-client.js';
import { HttpArrayTransport } from '../client/http-transport.js';
import { checkConcurrency, FlashArrayDriver, type StorageLog, stderrLog } from '../driver.js';

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
  /** Items per page of a list request (`limit`); the rest come by continuation token. @default DEFAULT_PAGE_SIZE */
  readonly pageSize?: number;
  /** Array requests sent at once for bulk volume work. @default DEFAULT_CONCURRENCY */
  readonly concurrency?: number;
  readonly log?: StorageLog;
  /** Debugging only: allow `http://` URLs (fa-sim --http). Production configs refuse them. */
  readonly allowInsecureHttp?: boolean;
  /** Retry backoff waits on it; it names default snapshot suffixes and measures lag. @default systemClock */
  readonly clock?: Clock;
  /**
   * `[storage] local_array`: which configured array is this site's own. The driver's first array
   * (`arrays()[0]`) is always the local one. @default 'primary'
   */
  readonly localArray?: 'primary' | 'secondary';
}

/**
 * Which `[storage]` options describe the driver's array in `role`: its first array (`primary`) is this
 * site's own, named by `local_array`.
 */
function optionRole(opts: PureStorageDriverOptions, role: 'primary' | 'secondary'): 'primary' | 'secondary' {
  const local = opts.localArray ?? 'primary';
  if (role === 'primary') return local;
  return local === 'primary' ? 'secondary' : 'primary';
}

/** The URL and token `[storage]` gives for its `primary_*` or `secondary_*` array. */
function configured(opts: PureStorageDriverOptions, option: 'primary' | 'secondary') {
  return option === 'primary'
    ? { url: opts.primaryArrayUrl, token: opts.primaryArrayApiToken }
    : { url: opts.secondaryArrayUrl, token: opts.secondaryArrayApiToken };
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
  return new ArrayClient(transport, {
    retry: opts.retry,
    pageSize: opts.pageSize,
    clock: opts.clock ?? systemClock,
  });
}

export class PureStorageDriver extends FlashArrayDriver {
  readonly name = 'pure' as const;
  /** Clients logged in with a replication policy's token, by role and token. */
  private readonly policyClients = new Map<string, ArrayClient>();

  constructor(private readonly opts: PureStorageDriverOptions) {
    const local = configured(opts, optionRole(opts, 'primary'));
    const peer = configured(opts, optionRole(opts, 'secondary'));
    super(
      {
        primary: arrayClient(opts, local.url, local.token),
        secondary: arrayClient(opts, peer.url, peer.token),
      },
      opts.log ?? stderrLog,
      opts.clock ?? systemClock,
    );
    this.concurrency = checkConcurrency(opts.concurrency);
  }

  protected clientWithToken(role: 'primary' | 'secondary', token: string): ArrayClient {
    const array = configured(this.opts, optionRole(this.opts, role));
    if (token === array.token) return this.clients[role];
    const key = `${role}\n${token}`;
    let client = this.policyClients.get(key);
    if (!client) {
      client = arrayClient(this.opts, array.url, token);
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
    const option = optionRole(this.opts, role);
    const url = `[storage] ${option}_array_url`;
    if (code === 'STORAGE_AUTH_FAILED')
      return `the API token in [storage] ${option}_array_api_token has expired or been revoked, or belongs to another array: create a new token on the array, set it and restart`;
    if (code === 'STORAGE_RATE_LIMITED') return 'the array is rate limiting this host; it is retried';
    return `check that ${url} is the array's HTTPS management address and that no firewall blocks HTTPS from this host to it`;
  }

  protected initializedMessage(): string {
    const host = (url: string) => new URL(url).hostname;
    return `PureStorageDriver initialized: primary=${host(this.opts.primaryArrayUrl)} secondary=${host(this.opts.secondaryArrayUrl)}`;
  }
}
