#!/usr/bin/env node
/**
 * Writes a throwaway PKI for the secure compose setup (docker-compose.mtls.yml)
 * into envoy/tls/ (git- and docker-ignored; never commit it):
 *   ca.crt                       the CA every side trusts
 *   switchyard.crt/.key          Switchyard's server certificate (DNS: switchyard, localhost)
 *   envoy.crt/.key               Envoy's client certificate, URI SAN spiffe://switchyard/group/default
 *   sds-identity.yaml, sds-ca.yaml  the SDS files envoy/bootstrap-ads-mtls.yaml reads
 *   identities.yaml              XDS_IDENTITIES_FILE: Envoy's identity may join node group default
 * Development only: use your own CA (cert-manager, SPIRE, Vault...) anywhere else.
 * Needs the dev dependency `selfsigned` (npm install).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as selfsigned from 'selfsigned';

// DEV_CERTS_DIR: somewhere else (the tests check what this script writes).
const dir = process.env.DEV_CERTS_DIR || join(dirname(dirname(fileURLToPath(import.meta.url))), 'envoy', 'tls');
mkdirSync(dir, { recursive: true });
const opts = { keyType: 'ec', algorithm: 'sha256', notAfterDate: new Date(Date.now() + 90 * 86400_000) };

const ca = await selfsigned.generate([{ name: 'commonName', value: 'switchyard dev CA' }], {
  ...opts,
  extensions: [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
  ],
});
const leaf = (cn, altNames, eku) =>
  selfsigned.generate([{ name: 'commonName', value: cn }], {
    ...opts,
    ca: { cert: ca.cert, key: ca.private },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', ...eku },
      { name: 'subjectAltName', altNames },
    ],
  });
const server = await leaf('switchyard', [{ type: 2, value: 'switchyard' }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }], { serverAuth: true });
const envoy = await leaf('envoy-1', [{ type: 6, value: 'spiffe://switchyard/group/default' }], { clientAuth: true });

const write = (name, text) => {
  writeFileSync(join(dir, name), text);
  // World-readable, keys included: the containers' users (Envoy runs as uid 101) read the bind mount. A dev PKI only.
  chmodSync(join(dir, name), 0o644);
};
write('ca.crt', ca.cert);
write('switchyard.crt', server.cert);
write('switchyard.key', server.private);
write('envoy.crt', envoy.cert);
write('envoy.key', envoy.private);
const sds = (secret) => `resources:\n  - "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret\n${secret}`;
write('sds-identity.yaml', sds('    name: envoy-identity\n    tls_certificate:\n      certificate_chain: {filename: /etc/envoy/tls/envoy.crt}\n      private_key: {filename: /etc/envoy/tls/envoy.key}\n'));
write('sds-ca.yaml', sds('    name: switchyard-ca\n    validation_context:\n      trusted_ca: {filename: /etc/envoy/tls/ca.crt}\n      match_typed_subject_alt_names:\n        - {san_type: DNS, matcher: {exact: switchyard}}\n'));
write('identities.yaml', 'identities:\n  - {id: spiffe://switchyard/group/default, groups: [default]}\n');
process.stdout.write(`wrote a development CA and certificates to ${dir}\n`);
