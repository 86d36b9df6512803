/**
 * Token secrets: `sy_<id>_<random>`. The id finds the stored row; only a
 * salted scrypt hash of the random part is kept, and it is compared in
 * constant time, so the table alone never lets anyone call the API.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const SECRET = /^sy_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
// scrypt's usual interactive cost (~16 MiB, tens of ms): verifications are cached, so it is paid once per token and replica.
const COST = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/** A new secret, shown once, and its id. */
export function newSecret(): { id: string; secret: string } {
  const id = randomBytes(8).toString('hex');
  return { id, secret: `sy_${id}_${randomBytes(32).toString('base64url')}` };
}

/** The id and random part of a well-formed secret, or undefined. */
export function parseSecret(secret: string): { id: string; random: string } | undefined {
  const m = SECRET.exec(secret);
  return m ? { id: m[1], random: m[2] } : undefined;
}

function derive(random: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(random, salt, 32, COST, (err, key) => (err ? reject(err) : resolve(key))));
}

/** Salt and hash to store for a secret's random part. */
export async function hashSecret(random: string): Promise<{ salt: Buffer; hash: Buffer }> {
  const salt = randomBytes(16);
  return { salt, hash: await derive(random, salt) };
}

/** Whether `random` is the secret behind the stored hash (constant-time). */
export async function verifySecret(random: string, salt: Buffer, hash: Buffer): Promise<boolean> {
  const got = await derive(random, salt);
  return got.length === hash.length && timingSafeEqual(got, hash);
}

/** Constant-time equality of two strings of any length (ADMIN_TOKEN). */
export function sameString(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** A cache key for a presented secret that is not the secret itself. */
export const fingerprint = (secret: string): string => createHash('sha256').update(secret).digest('base64url');
