/**
 * The kubeconfig the fake writes: context `fake` (current; the server's token) and
 * `fake-stale-token` (a token the server does not know → 401). client-node 1.x refuses an
 * http:// server unless the cluster has `insecure-skip-tls-verify: true`.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';

export function writeKubeconfig(dir: string, server: string, token: string): string {
  const file = path.join(dir, 'kubeconfig.yaml');
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [
        { name: 'fake-admin', user: { token } },
        { name: 'fake-stale', user: { token: 'stale-token' } },
      ],
      contexts: [
        { name: 'fake', context: { cluster: 'fake', user: 'fake-admin' } },
        { name: 'fake-stale-token', context: { cluster: 'fake', user: 'fake-stale' } },
      ],
      'current-context': 'fake',
    }),
    { mode: 0o600 },
  );
  return file;
}
