import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ProtectorError } from '@protector/schema';

/**
 * Encryption at rest for secrets kept in the site database (array API tokens): AES-256-GCM with a
 * 32-byte key that lives outside the database. A stored value is an envelope
 * `v1:<keyId>:<iv>:<tag>:<ciphertext>` (base64url parts); the key id lets a wrong key be reported
 * as such instead of as "corrupt data", and the additional authenticated data binds a ciphertext
 * to its record so it cannot be copied to another row.
 */

/** Bytes of an AES-256 key. */
export const SECRET_KEY_BYTES = 32;

const ENVELOPE_VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A loaded encryption key with its short public fingerprint. */
export interface SecretKey {
  readonly key: Buffer;
  /** First 8 hex digits of SHA-256 of the key: names the key in errors without revealing it. */
  readonly keyId: string;
}

const toSecretKey = (key: Buffer): SecretKey => ({
  key,
  keyId: createHash('sha256').update(key).digest('hex').slice(0, 8),
});

/**
 * Parses a key given as 64 hex digits or as base64 of 32 bytes (also accepts an already decoded
 * 32-byte Buffer).
 */
export function parseSecretKey(value: string | Buffer): SecretKey {
  if (Buffer.isBuffer(value)) {
    if (value.length !== SECRET_KEY_BYTES) throw badKey(`a ${value.length}-byte buffer`);
    return toSecretKey(Buffer.from(value));
  }
  const text = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return toSecretKey(Buffer.from(text, 'hex'));
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const decoded = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    if (decoded.length === SECRET_KEY_BYTES) return toSecretKey(decoded);
    throw badKey(`base64 of ${decoded.length} bytes`);
  }
  throw badKey('neither hex nor base64');
}

const badKey = (what: string): ProtectorError =>
  new ProtectorError(
    'CONFIG_INVALID',
    `Encryption key is ${what}; it must be 32 bytes given as 64 hex digits or base64 ` +
      '(generate one with: openssl rand -base64 32)',
  );

/** Generates a new random key. */
export const generateSecretKey = (): SecretKey => toSecretKey(randomBytes(SECRET_KEY_BYTES));

/**
 * Reads the key file at `path`, or creates it with a fresh random key (mode 0600, directory 0700)
 * when it does not exist. Refuses a key file that other users can read, as ssh does.
 */
export async function loadOrCreateKey(path: string): Promise<SecretKey> {
  try {
    return await readKeyFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const key = generateSecretKey();
  try {
    // 'wx' fails if another process created the file meanwhile; that process's key wins.
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(`${key.key.toString('base64')}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKeyFile(path);
    throw err;
  }
}

async function readKeyFile(path: string): Promise<SecretKey> {
  const info = await stat(path);
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new ProtectorError(
      'CONFIG_INVALID',
      `Key file ${path} is accessible by other users (mode ${(info.mode & 0o777).toString(8)}); ` +
        `run: chmod 600 ${path}`,
      { path },
    );
  }
  const content = await readFile(path, 'utf8');
  try {
    return parseSecretKey(content);
  } catch (err) {
    throw new ProtectorError('CONFIG_INVALID', `Key file ${path}: ${(err as Error).message}`, { path });
  }
}

/** Encrypts `plaintext`; `context` (for example `replication_policy:<pg id>:primary`) is authenticated. */
export function encryptSecret(secretKey: SecretKey, plaintext: string, context: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', secretKey.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [
    ENVELOPE_VERSION,
    secretKey.keyId,
    ...[iv, tag, ciphertext].map((b) => b.toString('base64url')),
  ].join(':');
}

/**
 * Decrypts an envelope made by `encryptSecret` with the same `context`. Throws `CONFIG_INVALID`
 * when the configured key is not the one the value was encrypted with, `INTERNAL` when the value
 * is corrupt or was moved from another record.
 */
export function decryptSecret(secretKey: SecretKey, envelope: string, context: string): string {
  const parts = envelope.split(':');
  const [version, keyId, iv, tag, ciphertext] = parts;
  if (parts.length !== 5 || version !== ENVELOPE_VERSION || !iv || !tag || ciphertext === undefined) {
    throw new ProtectorError(
      'INTERNAL',
      `Stored secret for ${context} is not a ${ENVELOPE_VERSION} envelope`,
    );
  }
  if (keyId !== secretKey.keyId) {
    throw new ProtectorError(
      'CONFIG_INVALID',
      `Stored secret for ${context} was encrypted with key ${keyId}, but the configured key is ` +
        `${secretKey.keyId}; configure the original key file or re-enter the secret`,
      { expectedKeyId: keyId, configuredKeyId: secretKey.keyId },
    );
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', secretKey.key, Buffer.from(iv, 'base64url'), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  } catch (err) {
    throw new ProtectorError(
      'INTERNAL',
      `Stored secret for ${context} failed authentication (corrupted, or copied from another record)`,
      {},
      { cause: err },
    );
  }
}
