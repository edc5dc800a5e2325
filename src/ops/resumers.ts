import type { Config } from '../config/schema.js';
import type { Services } from '../core/services.js';
import type { OperationLock } from '../nodes/node-ops.js';
import { rebootResumer } from '../nodes/reboot-resume.js';
import { updateResumer } from '../nodes/update-resume.js';
import { argoResumer } from './argo-resume.js';
import { drainLook } from './drain-look.js';
import type { OperationKind } from './journal.js';
import type { Resumer } from './resume.js';

/**
 * The operations that know how to go on after a restart (an update only answers for the reboot
 * it had started, resumed as its step), and those that are not continued but are looked at to
 * say what they left (a drain: the node's cordon); every other kind is reported as interrupted
 * with its recorded step.
 */
export function resumers(deps: {
  services: Services;
  config: Config;
  lock: OperationLock;
  /** Aborted when the bot stops. */
  signal: AbortSignal;
}): Partial<Record<OperationKind, Resumer>> {
  const argo = argoResumer(deps);
  return {
    'node.reboot': rebootResumer(deps),
    'node.update': updateResumer(),
    'node.drain': drainLook(deps),
    'argo.sync': argo,
    'argo.rollback': argo,
  };
}
