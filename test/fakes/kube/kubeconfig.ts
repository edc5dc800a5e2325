/**
 * The kubeconfig the fake writes: context `fake` (current; `token`) and `fake-stale-token` (a
 * token the server does not know → 401). client-node 1.x refuses an http:// server unless the
 * cluster has `insecure-skip-tls-verify: true`; over https it trusts `ca` (the fake's own
 * self-signed certificate).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';

export function writeKubeconfig(
  dir: string,
  server: string,
  token: string,
  opts: { ca?: string | undefined; file?: string; user?: string } = {},
): string {
  const file = path.join(dir, opts.file ?? 'kubeconfig.yaml');
  const cluster = opts.ca
    ? { server, 'certificate-authority': opts.ca }
    : { server, 'insecure-skip-tls-verify': true };
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster }],
      users: [
        { name: opts.user ?? 'homelab-chatops', user: { token } },
        { name: 'fake-stale', user: { token: 'stale-token' } },
      ],
      contexts: [
        { name: 'fake', context: { cluster: 'fake', user: opts.user ?? 'homelab-chatops' } },
        { name: 'fake-stale-token', context: { cluster: 'fake', user: 'fake-stale' } },
      ],
      'current-context': 'fake',
    }),
    { mode: 0o600 },
  );
  return file;
}
