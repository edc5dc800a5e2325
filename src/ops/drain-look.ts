import type { Config } from '../config/schema.js';
import type { Services } from '../core/services.js';
import { kubeForNode } from '../nodes/node-ops.js';
import type { Resumer } from './resume.js';

/**
 * A /node drain the bot was running when it went down is not continued (evicting pods is for a
 * person to start again), but what it left is looked at rather than guessed: whether the node is
 * still cordoned says where it stood and what to run — to finish the drain, or to undo it.
 */
export function drainLook(deps: { services: Services; config: Config }): Resumer {
  return {
    async look(op) {
      const node = deps.config.inventory.nodes.find((n) => n.name === op.record.target);
      if (!node?.k3sName) return undefined;
      const kube = kubeForNode(await deps.services.nodeOps(), node);
      const cordoned = await kube?.node(node.k3sName).then(
        (n) => n.unschedulable,
        () => undefined,
      );
      const ways = `To finish the drain: /node drain ${node.name}. To undo it: /node uncordon ${node.name}.`;
      if (cordoned === undefined) {
        return {
          at: `draining ${node.name}`,
          changed: [`${node.name} cordoned, unless someone uncordoned it (it could not be read)`],
          hint: ways,
        };
      }
      return cordoned
        ? {
            at: `draining ${node.name} (cordoned, its pods being evicted)`,
            changed: [`${node.name} cordoned`],
            hint: ways,
          }
        : {
            at: `about to cordon ${node.name}`,
            changed: [],
            hint: `${node.name} is not cordoned. To drain it: /node drain ${node.name}.`,
          };
    },
  };
}
