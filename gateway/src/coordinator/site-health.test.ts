/**
 * The site health monitor never piles checks up on a slow site: a round that finds the previous check
 * of a site still running waits for it instead of asking the site again.
 */
import { describe, expect, it } from 'vitest';
import type { SiteClient } from './site-client.js';
import { SiteHealthMonitor } from './site-health.js';
import type { SiteRecord } from './store.js';

const site: SiteRecord = {
  name: 'boston',
  key: 'k',
  description: null,
  url: 'http://127.0.0.1:1/graphql',
  authUrl: 'http://127.0.0.1:1/v3',
  registeredAt: new Date(0),
  hasServiceCredentials: true,
};

describe('SiteHealthMonitor', () => {
  it('asks a site that has not answered the previous check nothing more', async () => {
    let asked = 0;
    let answer: (() => void) | null = null;
    // A site that answers only when told to, with a health report of one array and a connected link.
    const client = {
      query: async () => {
        asked++;
        await new Promise<void>((resolve) => {
          answer = resolve;
        });
        return {
          version: '1',
          storage: {
            driver: 'mock',
            arrays: [{ reachable: true }],
            replicationLink: { state: 'CONNECTED' },
            replicationGroups: [],
          },
        };
      },
    } as unknown as SiteClient;
    const monitor = new SiteHealthMonitor({
      sites: () => [site],
      client: async () => client,
      siteTimeoutMs: 5000,
      intervalMs: 0,
      onBack: () => {},
    });
    const first = monitor.checkAll();
    const second = monitor.checkAll();
    const third = monitor.checkAll();
    await new Promise((r) => setImmediate(r));
    expect(asked).toBe(1);
    answer!();
    await Promise.all([first, second, third]);
    expect(monitor.get('boston').status).toBe('ACTIVE');
    // Once it has answered, the next round asks again.
    const next = monitor.checkAll();
    await new Promise((r) => setImmediate(r));
    expect(asked).toBe(2);
    answer!();
    await next;
  });
});
