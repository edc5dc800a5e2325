import type { ConfigInput } from './schema.js';

/**
 * The built-in configuration used when no config file is given: the seed's lab, the console
 * as the only chat, node actions as dry runs, and a local task repo under the state dir.
 * Nothing here reaches a real machine.
 */
export const DEMO_CONFIG: ConfigInput = {
  log: { level: 'warn' },
  chat: { console: { enabled: true } },
  inventory: {
    nodes: [
      {
        name: 'x86',
        host: '192.168.1.10',
        user: 'admin',
        os: 'nixos',
        roles: ['control-plane'],
        k3sName: 'x86',
        groups: ['k3s', 'servers'],
        description: 'K3s control plane and heavy workloads',
      },
      {
        name: 'pi5',
        host: '192.168.1.20',
        os: 'raspios',
        roles: ['worker', 'bot-host'],
        k3sName: 'pi5',
        groups: ['k3s', 'workers', 'pis'],
        description: 'K3s worker; runs this bot',
      },
      ...(['pi4-a', 'pi4-b'] as const).map((name, i) => ({
        name,
        host: `192.168.1.${21 + i}`,
        os: 'raspios' as const,
        roles: ['worker' as const],
        k3sName: name,
        groups: ['k3s', 'workers', 'pis'],
        description: 'K3s worker',
      })),
      ...(['pi1', 'pi2', 'pi3'] as const).map((name, i) => ({
        name,
        host: `192.168.1.${31 + i}`,
        os: 'raspios' as const,
        roles: ['support' as const],
        groups: ['support', 'pis'],
        description: 'Pi-hole DNS, exporters, backup agent',
      })),
    ],
  },
  access: {
    readOnly: 'open',
    roles: { admin: { members: ['console:*'], allow: ['*'] } },
  },
  dryRun: { commands: ['node.*'] },
  // Alertmanager can post to http://127.0.0.1:9095/hooks/alertmanager; threads show on the console.
  alerts: { enabled: true, default: { to: [{ console: true }] } },
};
