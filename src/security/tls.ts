import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { type FileWatch, watchFiles } from '../common/file-watch.js';
import { type AppConfig, ConfigError } from '../config/config.js';

/** Nest injection token of the process's TlsMaterial (null when TLS is off). */
export const TLS_MATERIAL = Symbol.for('switchyard.TlsMaterial');

/** One loaded version of the TLS files. */
export interface TlsFilesContent {
  cert: Buffer;
  key: Buffer;
  /** The client CA bundle (XDS_CLIENT_CA_FILE), when mTLS is on. */
  clientCa?: Buffer;
}

type Listener = (c: TlsFilesContent) => void;

/**
 * The server certificate, its key and the xDS client CA, read from files and
 * re-read when they change. Every listener (REST, management gRPC, xDS)
 * takes its TLS settings from here, so one rotation reaches all three, and
 * connections opened after it get the new certificate without a restart.
 * Connections already open keep the certificate they were set up with.
 */
export class TlsMaterial {
  private content: TlsFilesContent;
  private readonly listeners = new Set<Listener>();
  private watch?: FileWatch;
  /** How many times new files were taken (for logs and tests). */
  generation = 0;

  /** Reads and checks the files now: a missing file or a key that does not fit its certificate fails the boot. */
  constructor(
    readonly files: { cert: string; key: string; clientCa?: string },
    private readonly onProblem: (message: string) => void = () => undefined,
  ) {
    try {
      this.content = read(files);
    } catch (e) {
      throw new ConfigError(`TLS files: ${(e as Error).message}`);
    }
  }

  /** The TLS files named by the config, or undefined when TLS is off. */
  static fromConfig(config: AppConfig, onProblem?: (message: string) => void): TlsMaterial | undefined {
    if (!config.TLS_CERT_FILE || !config.TLS_KEY_FILE) return undefined;
    const m = new TlsMaterial({ cert: config.TLS_CERT_FILE, key: config.TLS_KEY_FILE, clientCa: config.XDS_CLIENT_CA_FILE }, onProblem);
    m.startWatching(config.SECURITY_RELOAD_INTERVAL_MS);
    return m;
  }

  get current(): TlsFilesContent {
    return this.content;
  }

  /** Calls `l` with every later version (not the current one). */
  onChange(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  startWatching(intervalMs: number): void {
    const paths = [this.files.cert, this.files.key, ...(this.files.clientCa ? [this.files.clientCa] : [])];
    this.watch = watchFiles(paths, intervalMs, () => this.reload());
  }

  /** Looks at the files now (tests; the poll does this by itself). */
  checkNow(): void {
    this.watch?.check();
  }

  /** Re-reads the files; a broken set (half-written during a rotation) is reported and the old one kept. Returns whether the files were looked at. */
  reload(): boolean {
    let next: TlsFilesContent;
    try {
      next = read(this.files);
    } catch (e) {
      // The rest of a rotation (the other file) changes the files again and is looked at then.
      this.onProblem(`TLS files changed but cannot be used, keeping the previous certificate: ${(e as Error).message}`);
      return true;
    }
    this.content = next;
    this.generation++;
    for (const l of this.listeners) l(next);
    return true;
  }

  close(): void {
    this.watch?.stop();
    this.listeners.clear();
  }
}

function read(files: { cert: string; key: string; clientCa?: string }): TlsFilesContent {
  const load = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(`${what} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  };
  const cert = load('TLS_CERT_FILE', files.cert);
  const key = load('TLS_KEY_FILE', files.key);
  const clientCa = files.clientCa ? load('XDS_CLIENT_CA_FILE', files.clientCa) : undefined;
  // Build a context once: this is where a key that does not match its certificate, or bad PEM, shows.
  try {
    createSecureContext({ cert, key, ...(clientCa ? { ca: clientCa } : {}) });
  } catch (e) {
    throw new Error(`${files.cert} / ${files.key}${clientCa ? ` / ${files.clientCa}` : ''}: ${(e as Error).message}`);
  }
  return { cert, key, clientCa };
}

/** Options for Node's https/tls servers (REST); pass later versions to `server.setSecureContext`. */
export function httpsOptions(c: TlsFilesContent): SecureContextOptions {
  return { cert: c.cert, key: c.key };
}

/**
 * A grpc-js certificate provider fed by TlsMaterial. grpc-js (1.14) re-reads
 * a provider's updates into the live server with `setSecureContext`, so a
 * rotation needs no rebind; this is the same mechanism grpc-js-xds uses for
 * xDS-configured server certificates.
 */
class MaterialCertificateProvider implements grpc.experimental.CertificateProvider {
  private readonly ca = new Set<grpc.experimental.CaCertificateUpdateListener>();
  private readonly identity = new Set<grpc.experimental.IdentityCertificateUpdateListener>();

  constructor(private readonly material: TlsMaterial, private readonly withCa: boolean) {
    material.onChange((c) => {
      for (const l of this.identity) l({ certificate: c.cert, privateKey: c.key });
      if (c.clientCa) for (const l of this.ca) l({ caCertificate: c.clientCa });
    });
  }

  // grpc-js subscribes while it builds the server and must get the first update later
  // (on the next tick): a synchronous update would be lost before its watcher is added.
  addCaCertificateListener(l: grpc.experimental.CaCertificateUpdateListener): void {
    this.ca.add(l);
    const ca = this.material.current.clientCa;
    if (this.withCa && ca) process.nextTick(l, { caCertificate: ca });
  }
  removeCaCertificateListener(l: grpc.experimental.CaCertificateUpdateListener): void {
    this.ca.delete(l);
  }
  addIdentityCertificateListener(l: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identity.add(l);
    const c = this.material.current;
    process.nextTick(l, { certificate: c.cert, privateKey: c.key });
  }
  removeIdentityCertificateListener(l: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identity.delete(l);
  }
}

/**
 * Server credentials for a grpc-js server: plaintext without TLS material,
 * TLS from the files otherwise, and mTLS (client certificate required and
 * verified against XDS_CLIENT_CA_FILE) when `requireClientCert` and a CA are given.
 */
export function grpcServerCredentials(material: TlsMaterial | undefined, requireClientCert = false): grpc.ServerCredentials {
  if (!material) return grpc.ServerCredentials.createInsecure();
  const mtls = requireClientCert && !!material.current.clientCa;
  const provider = new MaterialCertificateProvider(material, mtls);
  // grpc-js 1.14 declares this as (ca, identity, require) but passes its first argument on as the
  // identity provider (grpc-js-xds calls it as (identity, ca, require)); one provider that serves
  // both kinds of update works either way.
  return grpc.experimental.createCertificateProviderServerCredentials(provider, mtls ? provider : null, mtls);
}
