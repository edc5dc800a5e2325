/**
 * A self-signed certificate for the fake's TLS mode, made at test time by the `openssl` CLI
 * (node:crypto reads X.509 but cannot issue it): EC P-256, CN fake-kube, subjectAltName
 * IP:127.0.0.1 — what client-node checks when the in-cluster config points it at
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with the service account's ca.crt.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface SelfSignedCert {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export function selfSignedCert(dir: string): SelfSignedCert {
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=fake-kube',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return {
    certFile,
    keyFile,
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
  };
}
