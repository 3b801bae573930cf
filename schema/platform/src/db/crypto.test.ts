import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decryptSecret,
  encryptSecret,
  generateSecretKey,
  loadOrCreateKey,
  parseSecretKey,
} from './crypto.js';

describe('secret keys', () => {
  it('parses 64 hex digits, base64 and base64url to the same key', () => {
    const raw = randomBytes(32);
    const fromHex = parseSecretKey(raw.toString('hex'));
    expect(parseSecretKey(raw.toString('base64')).keyId).toBe(fromHex.keyId);
    expect(parseSecretKey(` ${raw.toString('base64url')}\n`).keyId).toBe(fromHex.keyId);
    expect(parseSecretKey(raw).key.equals(raw)).toBe(true);
  });

  it('refuses keys that are not 32 bytes, naming the expected form', () => {
    expect(() => parseSecretKey(randomBytes(16).toString('base64'))).toThrow(/base64 of 16 bytes.*32 bytes/);
    expect(() => parseSecretKey('not a key!')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('encryptSecret / decryptSecret', () => {
  const key = generateSecretKey();
  const token = 'T-aaaabbbb-cccc-dddd-eeee-ffffffffffff';

  it('round-trips, with a fresh iv each time and no plaintext in the envelope', () => {
    const a = encryptSecret(key, token, 'ctx');
    const b = encryptSecret(key, token, 'ctx');
    expect(a).not.toBe(b);
    expect(a).not.toContain('aaaabbbb');
    expect(a.split(':')).toHaveLength(5);
    expect(decryptSecret(key, a, 'ctx')).toBe(token);
  });

  it('reports a wrong key as a configuration error naming both key ids', () => {
    const envelope = encryptSecret(key, token, 'ctx');
    const other = generateSecretKey();
    expect(() => decryptSecret(other, envelope, 'ctx')).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining(
          `encrypted with key ${key.keyId}, but the configured key is ${other.keyId}`,
        ),
      }),
    );
  });

  it('refuses a ciphertext moved to another record or tampered with', () => {
    const envelope = encryptSecret(key, token, 'replication_policy:a:primary');
    expect(() => decryptSecret(key, envelope, 'replication_policy:b:primary')).toThrow(
      /failed authentication/,
    );
    const parts = envelope.split(':');
    parts[4] = Buffer.from('x'.repeat(token.length)).toString('base64url');
    expect(() => decryptSecret(key, parts.join(':'), 'replication_policy:a:primary')).toThrow(
      expect.objectContaining({ code: 'INTERNAL' }),
    );
  });
});

describe('loadOrCreateKey', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'protector-key-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a missing key file with mode 0600 and reads the same key back', async () => {
    const path = join(dir, 'nested', 'db.key');
    const created = await loadOrCreateKey(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'nested'))).mode & 0o777).toBe(0o700);
    expect(Buffer.from((await readFile(path, 'utf8')).trim(), 'base64').length).toBe(32);
    const reloaded = await loadOrCreateKey(path);
    expect(reloaded.keyId).toBe(created.keyId);
  });

  it('gives concurrent first starts the same key', async () => {
    const path = join(dir, 'db.key');
    const keys = await Promise.all([loadOrCreateKey(path), loadOrCreateKey(path), loadOrCreateKey(path)]);
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(1);
  });

  it('refuses a key file other users can read, saying how to fix it', async () => {
    const path = join(dir, 'db.key');
    await writeFile(path, randomBytes(32).toString('hex'));
    await chmod(path, 0o644);
    await expect(loadOrCreateKey(path)).rejects.toThrow(`run: chmod 600 ${path}`);
  });

  it('names the file when its content is not a key', async () => {
    const path = join(dir, 'db.key');
    await writeFile(path, 'hello', { mode: 0o600 });
    await expect(loadOrCreateKey(path)).rejects.toThrow(`Key file ${path}: Encryption key is`);
  });
});
