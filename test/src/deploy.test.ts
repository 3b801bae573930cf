/** The example configurations under deploy/ compile with the rules the services apply at start-up. */
import { readFileSync } from 'node:fs';
import { loadGatewayConfig } from '@protector/gateway';
import { loadSiteConfig } from '@protector/subgraph-site';
import { describe, expect, it } from 'vitest';

const file = (name: string) => new URL(`../../deploy/${name}`, import.meta.url);

describe('deploy/ examples', () => {
  it.each([
    'site-a/protector.conf',
    'site-b/protector.conf',
    'mock-site.conf',
  ])('%s is a valid protector.conf', (name) => {
    const config = loadSiteConfig({ text: readFileSync(file(name), 'utf8'), path: name, env: {} });
    expect(config.DEFAULT.site_name).toMatch(/^[a-z]/);
  });

  it("the two production sites configure [storage] symmetrically, as the product documentation's Example 1", () => {
    const a = loadSiteConfig({ text: readFileSync(file('site-a/protector.conf'), 'utf8'), env: {} });
    const b = loadSiteConfig({ text: readFileSync(file('site-b/protector.conf'), 'utf8'), env: {} });
    const arrays = (c: typeof a) => {
      const { primary_array_url, primary_array_api_token, secondary_array_url, secondary_array_api_token } =
        c.storage;
      return { primary_array_url, primary_array_api_token, secondary_array_url, secondary_array_api_token };
    };
    expect(arrays(b)).toEqual(arrays(a));
    // Only which of them is the site's own differs.
    expect([a.storage.local_array, b.storage.local_array]).toEqual(['primary', 'secondary']);
    // Each site manages recovered volumes into its own cloud's Cinder backend.
    expect([a.cinder.volume_host, b.cinder.volume_host]).toEqual([
      'cinder-boston-01@pure#pure',
      'cinder-seattle-01@pure#pure',
    ]);
  });

  it('gateway.conf is valid', () => {
    const config = loadGatewayConfig({ text: readFileSync(file('gateway.conf'), 'utf8'), env: {} });
    expect(config.api.bind_port).toBe(4000);
  });
});
