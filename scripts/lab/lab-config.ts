/**
 * The bot's config for the local lab (`.chatops/lab/config.yaml`): every section pointed at
 * what the lab started, validated with the real schema before it is written.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { type ConfigInput, ConfigSchema, type NodeConfig } from '../../src/config/schema.js';
import type { ResticRepos } from './restic-repos.js';

export interface LabParts {
  dir: string;
  httpPort: number;
  webhookToken: string;
  inventory: NodeConfig[];
  ssh?: { privateKeyFile: string; knownHostsFile: string };
  kubeconfig: string;
  piholes: { name: string; url: string; password: string }[];
  alertmanagerUrl?: string;
  restic?: ResticRepos & { nodes: string[] };
}

export function labConfig(p: LabParts): ConfigInput {
  return {
    log: { level: 'warn' },
    state: { dir: path.join(p.dir, 'state') },
    http: { enabled: true, host: '127.0.0.1', port: p.httpPort },
    chat: { console: { enabled: true } },
    inventory: { nodes: p.inventory },
    access: { readOnly: 'open', roles: { admin: { members: ['console:*'], allow: ['*'] } } },
    alerts: {
      enabled: true,
      default: { to: [{ console: true }] },
      webhook: { token: p.webhookToken },
      ...(p.alertmanagerUrl ? { alertmanager: { url: p.alertmanagerUrl } } : {}),
    },
    ...(p.ssh ? { ssh: { ...p.ssh, connectTimeoutMs: 3000 } } : {}),
    kube: { kubeconfig: p.kubeconfig },
    pihole: { instances: p.piholes },
    ...(p.restic && p.ssh
      ? {
          backup: {
            nodes: p.restic.nodes,
            runWith: 'command' as const,
            paths: p.restic.paths,
            envFile: p.restic.envFile,
          },
        }
      : {}),
    nodeOps: { drainTimeoutSeconds: 60, rebootTimeoutSeconds: 60, readyTimeoutSeconds: 60 },
    longhorn: { rebuildTimeoutSeconds: 120 },
  };
}

/** Validates and writes it (mode 0600: it holds the Pi-hole passwords and the webhook token). */
export function writeLabConfig(file: string, config: ConfigInput): void {
  ConfigSchema.parse(config);
  writeFileSync(
    file,
    `# Written by \`npm run lab\` for the local lab it runs; rewritten at each start.\n${stringify(config)}`,
    { mode: 0o600 },
  );
}
