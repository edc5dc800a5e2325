/**
 * The demo's Pi-holes: the configured instances for plans and names, and for every call that
 * would reach one, what it would send to each — never a session, never a request.
 */
import type { Logger } from '../core/logger.js';
import type { PiholeApi } from '../core/services.js';
import {
  type ApiCall,
  callLine,
  type DomainList,
  PiholeClient,
  type PiholeInstanceConfig,
  piholeCalls,
} from '../infra/pihole.js';
import { labAsks } from './lab-asks.js';
import { NoLabError } from './no-lab.js';

const CONNECT = labAsks.piholeStatus([]).connect;

export class DemoPihole implements PiholeApi {
  /** Only for names and targets: constructing the client contacts nothing. */
  private readonly instances: PiholeClient;

  constructor(instances: readonly PiholeInstanceConfig[], logger: Logger) {
    this.instances = new PiholeClient({ instances, timeoutMs: 1, logger });
  }

  names(): string[] {
    return this.instances.names();
  }

  targets(instance?: string): { name: string; url: string }[] {
    return this.instances.targets(instance);
  }

  private refuse(call: ApiCall, instance?: string): never {
    const lines = this.targets(instance).map((t) => callLine(t.url, call));
    throw new NoLabError({ asks: `send ${lines.join(', ')}`, connect: CONNECT }, 'change');
  }

  async status(instance?: string): Promise<never> {
    throw new NoLabError(labAsks.piholeStatus(this.targets(instance)));
  }

  async setBlocking(enabled: boolean, timer: number | null, instance?: string): Promise<never> {
    return this.refuse(piholeCalls.setBlocking(enabled, timer), instance);
  }

  async addDomain(
    list: DomainList,
    domain: string,
    comment: string,
    instance?: string,
  ): Promise<never> {
    return this.refuse(piholeCalls.addDomain(list, domain, comment), instance);
  }

  async removeDomain(list: DomainList, domain: string, instance?: string): Promise<never> {
    return this.refuse(piholeCalls.removeDomain(list, domain), instance);
  }

  async gravity(_onLine: unknown, instance?: string): Promise<never> {
    return this.refuse(piholeCalls.gravity(), instance);
  }

  async close(): Promise<void> {}
}
