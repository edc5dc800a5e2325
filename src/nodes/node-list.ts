/** /node list: the inventory, with each K3s node's state when the Kubernetes API answers. */
import type { Inventory } from '../core/inventory.js';
import type { Reply } from '../core/reply.js';
import type { Services } from '../core/services.js';
import { table } from '../core/table.js';
import { k3sStates } from './status.js';

export async function listNodes(inventory: Inventory, services: Services): Promise<Reply> {
  // K3s state from one API call when the API is configured; the inventory alone otherwise.
  const k3s = await k3sStates(() => services.nodeOps());
  return {
    title: `${inventory.nodes.length} nodes`,
    code: table(
      ['NODE', 'HOST', 'OS', 'ROLES', 'K3S', 'GROUPS'],
      inventory.nodes.map((n) => [
        n.name,
        n.port === 22 ? n.host : `${n.host}:${n.port}`,
        n.os,
        n.roles.join(',') || '-',
        n.k3sName
          ? (k3s.states?.get(n.k3sName) ??
            (k3s.states ? `${n.k3sName}: not in cluster` : n.k3sName))
          : '-',
        n.groups.join(',') || '-',
      ]),
    ),
    text: k3s.error ? `K3s state unknown: ${k3s.error}` : undefined,
  };
}
