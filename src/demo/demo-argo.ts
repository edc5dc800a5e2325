/**
 * The demo's Argo CD: it knows the demo lab's application names (autocomplete, "did you
 * mean") and answers every call that would reach the Kubernetes API with what it would send.
 */
import type { Config } from '../config/schema.js';
import type { ArgoApi } from '../core/services.js';
import type { ArgoApp } from '../infra/argo.js';
import { appPath } from '../infra/argo-objects.js';
import { demoApp, labAsks } from './lab-asks.js';
import { NoLabError } from './no-lab.js';

export class DemoArgo implements ArgoApi {
  constructor(private readonly config: Config) {}

  async names(): Promise<string[]> {
    return [...(this.config.demo?.argoApps ?? [])];
  }

  async list(): Promise<never> {
    throw new NoLabError(labAsks.argoList(this.config));
  }

  async get(name: string): Promise<never> {
    throw new NoLabError(labAsks.argoApp(this.config, name));
  }

  async rollbackTarget(name: string): Promise<never> {
    // A rollback's plan needs the app's history, which only the cluster has.
    return this.get(name);
  }

  private patch(name: string, what: string): never {
    const path = appPath(this.config.argo.namespace, demoApp(this.config, name));
    throw new NoLabError(
      {
        asks: `send PATCH ${path} (${what}) to the Kubernetes API`,
        connect: labAsks.argoList(this.config).connect,
      },
      'change',
    );
  }

  async sync(name: string): Promise<never> {
    return this.patch(name, 'the sync operation');
  }

  async rollback(name: string): Promise<never> {
    return this.patch(name, 'the rollback operation');
  }

  async refresh(name: string): Promise<never> {
    return this.patch(name, 'the refresh annotation');
  }

  async followStarted(): Promise<undefined> {
    return undefined; // the demo never started anything to follow
  }

  refuseIfBusy(_app: ArgoApp): void {}
}
