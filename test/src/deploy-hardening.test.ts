/** The systemd units under deploy/ run the services with the hardening a DR service should have. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const unit = (name: string) => {
  const text = readFileSync(new URL(`../../deploy/systemd/${name}`, import.meta.url), 'utf8');
  const service = text.split(/^\[Service\]$/m)[1]?.split(/^\[/m)[0] ?? '';
  return new Map(
    service
      .split('\n')
      .map((line) => /^([A-Za-z]+)=(.*)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => [m[1]!, m[2]!] as const),
  );
};

const REQUIRED: Readonly<Record<string, string>> = {
  User: 'protector',
  UMask: '0027',
  NoNewPrivileges: 'true',
  ProtectSystem: 'strict',
  ProtectHome: 'true',
  PrivateTmp: 'true',
  PrivateDevices: 'true',
  ProtectKernelTunables: 'true',
  ProtectKernelModules: 'true',
  ProtectControlGroups: 'true',
  RestrictSUIDSGID: 'true',
  LockPersonality: 'true',
  CapabilityBoundingSet: '',
  StateDirectoryMode: '0750',
};

describe.each(['protector-gateway.service', 'protector-site.service'])('deploy/systemd/%s', (name) => {
  const options = unit(name);
  it.each(Object.entries(REQUIRED))('sets %s=%s', (key, value) => {
    expect(options.get(key)).toBe(value);
  });

  it('checks its config before starting and writes only its own state', () => {
    expect(options.get('ExecStartPre')).toMatch(/--check-config$/);
    expect(
      options
        .get('ReadWritePaths')
        ?.split(' ')
        .every((p) => p.startsWith('/var/')),
    ).toBe(true);
  });
});
