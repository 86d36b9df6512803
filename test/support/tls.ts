import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as selfsigned from 'selfsigned';

/** A PEM certificate and its key. */
export interface Pem {
  cert: string;
  key: string;
}

/**
 * A throwaway PKI for one test file: a CA and leaves it signs, generated at
 * run time (EC P-256: fast) in a temporary directory removed by `cleanup()`.
 * No key is ever committed.
 */
export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'switchyard-tls-'));
  private constructor(readonly ca: Pem, readonly caFile: string) {}

  static async create(cn = 'switchyard test CA'): Promise<TestPki> {
    const ca = await selfsigned.generate([{ name: 'commonName', value: cn }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    });
    const pem = { cert: ca.cert, key: ca.private };
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-ca-'));
    const file = join(dir, 'ca.pem');
    writeFileSync(file, pem.cert);
    const pki = new TestPki(pem, file);
    pki.extraDirs.push(dir);
    return pki;
  }

  private readonly extraDirs: string[] = [];

  /** A server certificate for localhost and 127.0.0.1. */
  server(cn = 'localhost'): Promise<Pem> {
    return this.leaf(cn, [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }], { serverAuth: true });
  }

  /** A client certificate; `uri` becomes a URI SAN (a SPIFFE id). */
  client(cn: string, uri?: string): Promise<Pem> {
    return this.leaf(cn, uri ? [{ type: 6, value: uri }] : [], { clientAuth: true });
  }

  private async leaf(cn: string, altNames: { type: 2 | 6 | 7; value?: string; ip?: string }[], eku: { serverAuth?: boolean; clientAuth?: boolean }): Promise<Pem> {
    const r = await selfsigned.generate([{ name: 'commonName', value: cn }], {
      keyType: 'ec',
      algorithm: 'sha256',
      ca: { cert: this.ca.cert, key: this.ca.key },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', ...eku },
        ...(altNames.length ? [{ name: 'subjectAltName' as const, altNames }] : []),
      ],
    });
    return { cert: r.cert, key: r.private };
  }

  /** Writes a certificate and key as `<name>.crt` / `<name>.key`; returns their paths. */
  write(name: string, pem: Pem): { cert: string; key: string } {
    const cert = join(this.dir, `${name}.crt`);
    const key = join(this.dir, `${name}.key`);
    writeFileSync(key, pem.key, { mode: 0o600 });
    writeFileSync(cert, pem.cert);
    return { cert, key };
  }

  /** Replaces files the way rotations do: write beside, then rename over (a new inode). */
  replace(paths: { cert: string; key: string }, pem: Pem): void {
    writeFileSync(`${paths.key}.new`, pem.key, { mode: 0o600 });
    writeFileSync(`${paths.cert}.new`, pem.cert);
    renameSync(`${paths.key}.new`, paths.key);
    renameSync(`${paths.cert}.new`, paths.cert);
  }

  cleanup(): void {
    for (const d of [this.dir, ...this.extraDirs]) rmSync(d, { recursive: true, force: true });
  }
}
