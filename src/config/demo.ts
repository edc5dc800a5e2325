import type { ConfigInput } from './schema.js';

/** The Pi-hole DNS servers, backup agents and exporters of the seed's lab. */
const SUPPORT_PIS = ['pi1', 'pi2', 'pi3'] as const;

/**
 * The built-in configuration used when no config file is given: the seed's whole lab (seven
 * nodes, Pi-hole and backup agents on pi1–pi3, the Argo CD apps, an Alertmanager), the console
 * as the only chat, every lab action as a dry run, and a local task repo under the state dir.
 * `demo` makes the bot describe the lab instead of contacting it: nothing here reaches a
 * machine (the Pi-hole passwords are placeholders that are never sent).
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
      ...SUPPORT_PIS.map((name, i) => ({
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
  // Everything that would change the lab shows its plan; tasks go to the local repo for real.
  dryRun: { commands: ['node.*', 'argo.*', 'pihole.*', 'backup.*', 'alert.*'] },
  // Alertmanager can post to http://127.0.0.1:9095/hooks/alertmanager; threads show on the console.
  alerts: {
    enabled: true,
    default: { to: [{ console: true }] },
    alertmanager: { url: 'http://alertmanager.monitoring.svc:9093' },
  },
  pihole: {
    instances: SUPPORT_PIS.map((name, i) => ({
      name,
      url: `http://192.168.1.${31 + i}`,
      password: 'demo-placeholder-never-sent',
    })),
  },
  backup: {
    nodes: [...SUPPORT_PIS],
    runWith: 'command',
    paths: ['/etc/pihole', '/etc/dnsmasq.d', '/home/pi'],
  },
  demo: {
    argoApps: [
      'cert-manager',
      'home-assistant',
      'homelab-chatops',
      'longhorn',
      'monitoring',
      'pihole-exporter',
      'tailscale-operator',
      'vikunja',
    ],
  },
};
