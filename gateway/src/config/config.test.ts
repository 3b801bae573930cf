import { isProtectorError } from '@protector/schema';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig, redactGatewayConfig, renderGatewayConfigReference } from './index.js';

describe('gateway.conf', () => {
  it('has defaults for every option and lets the environment override the file', () => {
    const config = loadGatewayConfig({
      text: '[api]\nbind_port = 4100\n',
      env: { PROTECTOR_GATEWAY_GATEWAY__SUBGRAPH_TIMEOUT: '3' },
    });
    expect(config.api.bind_port).toBe(4100);
    expect(config.gateway.subgraph_timeout).toBe(3);
    expect(config.database.connection).toBe('sqlite:////var/lib/protector-gateway/gateway.sqlite');
  });

  it('reports unknown options and bad values together, naming each', () => {
    let err: unknown;
    try {
      loadGatewayConfig({ text: '[api]\nbind_prot = 1\n[database]\nconnection = mysql://x/y\n', env: {} });
    } catch (e) {
      err = e;
    }
    expect(isProtectorError(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/bind_prot/);
    expect((err as Error).message).toMatch(/bind_port/);
    expect((err as Error).message).toMatch(/connection/);
  });

  it('never shows the encryption key', () => {
    const key = 'a'.repeat(64);
    const config = loadGatewayConfig({ text: `[database]\nencryption_key = ${key}\n`, env: {} });
    expect(JSON.stringify(redactGatewayConfig(config))).not.toContain(key);
  });

  it('is the generated reference (regenerate with `npx vitest run src/config -u`)', async () => {
    await expect(renderGatewayConfigReference()).toMatchFileSnapshot(
      '../../../docs/gateway-configuration.md',
    );
  });
});
