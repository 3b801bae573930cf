/**
 * Site health: every registered site checked on an interval (service, storage, replication link),
 * the latest result per site, and an event whenever a site's status changes. A check costs the site
 * the same whatever its number of groups: the groups' lag and RPO are read per request, with the
 * caller's tokens, from what the sites' replication monitors record.
 */

import { EventHub } from '@protector/platform';
import { type HealthIssue, healthIssue, ProtectorError, type SiteStatus } from '@protector/schema';
import { HealthDocument } from './generated/site-documents.js';
import { SERVICE, type SiteClient } from './site-client.js';
import type { SiteRecord } from './store.js';

export type { SiteStatus };

export interface SiteHealth {
  readonly status: SiteStatus;
  readonly checkedAt: Date | null;
  readonly latencyMs: number | null;
  readonly version: string | null;
  readonly storageDriver: string | null;
  readonly storageReachable: boolean | null;
  readonly linkState: string;
  /** The site's own issues (link, storage, reachability); its groups' are read per request, per caller. */
  readonly issues: readonly HealthIssue[];
}

export interface SiteHealthEvent {
  readonly occurredAt: string;
  readonly site: string;
  readonly status: SiteStatus;
  readonly previousStatus: SiteStatus | null;
}

/** Health of a site not checked yet. */
export const UNKNOWN_HEALTH: SiteHealth = {
  status: 'UNKNOWN',
  checkedAt: null,
  latencyMs: null,
  version: null,
  storageDriver: null,
  storageReachable: null,
  linkState: 'UNKNOWN',
  issues: [],
};

export interface SiteHealthMonitorOptions {
  /** The registered sites (read at every round). */
  readonly sites: () => readonly SiteRecord[];
  readonly client: (name: string) => Promise<SiteClient>;
  /** Per-check timeout towards a site (at most 5 s). */
  readonly siteTimeoutMs: number;
  /** How often every site is checked (0 = never, for tests that drive it). */
  readonly intervalMs: number;
  /** Called when a site that was UNREACHABLE answers again. */
  readonly onBack: (site: SiteRecord) => void;
}

export class SiteHealthMonitor {
  /** Site status changes, for the `siteHealth` subscription. */
  readonly events = new EventHub<SiteHealthEvent>();
  private readonly health = new Map<string, SiteHealth>();
  /** The check of each site still running: a round never starts a second one beside it. */
  private readonly inflight = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: SiteHealthMonitorOptions) {}

  start(): void {
    if (this.opts.intervalMs <= 0 || this.timer) return;
    void this.checkAll();
    this.timer = setInterval(() => void this.checkAll(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The latest health of a site (UNKNOWN before its first check). */
  get(name: string): SiteHealth {
    return this.health.get(name) ?? UNKNOWN_HEALTH;
  }

  /**
   * Checks every site once and publishes changes. A site whose previous check has not ended is not
   * asked again (a slow site is not piled up with checks): the round waits for that check instead.
   */
  async checkAll(): Promise<void> {
    await Promise.all(
      this.opts.sites().map((s) => {
        let running = this.inflight.get(s.name);
        if (!running) {
          running = this.check(s).finally(() => this.inflight.delete(s.name));
          this.inflight.set(s.name, running);
        }
        return running;
      }),
    );
  }

  private async check(site: SiteRecord): Promise<void> {
    const client = await this.opts.client(site.name);
    const t0 = Date.now();
    let next: SiteHealth;
    try {
      const state = await client.query(HealthDocument, {}, SERVICE, Math.min(this.opts.siteTimeoutMs, 5000));
      const storage = state.storage;
      if (!storage)
        throw new ProtectorError('SITE_UNREACHABLE', `Site '${site.name}' did not report its storage.`);
      const link = storage.replicationLink.state;
      const storageReachable = storage.arrays.every((a) => a.reachable);
      const issues = [
        ...(link !== 'CONNECTED'
          ? [healthIssue('REPLICATION_LINK_DOWN', `Replication link is ${link}.`)]
          : []),
        ...(!storageReachable ? [healthIssue('STORAGE_UNREACHABLE', 'An array is unreachable.')] : []),
      ];
      next = {
        status: storageReachable && link === 'CONNECTED' ? 'ACTIVE' : 'DEGRADED',
        checkedAt: new Date(),
        latencyMs: Date.now() - t0,
        version: state.version,
        storageDriver: storage.driver,
        storageReachable,
        linkState: link,
        issues,
      };
    } catch (err) {
      next = {
        ...UNKNOWN_HEALTH,
        status: 'UNREACHABLE',
        checkedAt: new Date(),
        issues: [healthIssue('SITE_UNREACHABLE', (err as Error).message)],
      };
    }
    const previous = this.health.get(site.name)?.status ?? null;
    this.health.set(site.name, next);
    if (previous !== next.status) {
      const event: SiteHealthEvent = {
        occurredAt: new Date().toISOString(),
        site: site.name,
        status: next.status,
        previousStatus: previous,
      };
      this.events.publish(event);
      if (previous === 'UNREACHABLE' && next.status !== 'UNREACHABLE') {
        this.opts.onBack(site);
      }
    }
  }
}
