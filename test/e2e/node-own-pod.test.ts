import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { FakeKube } from '../fakes/kube/fake-kube.js';
import { runCommand, runConfirmed, startApp, testConfig } from '../helpers/app-fixture.js';

/**
 * The bot in its own cluster (POD_NAME, POD_NAMESPACE, NODE_NAME from the downward API): a drain
 * of the node it runs on evicts every other pod and leaves the bot's, and the plan says so.
 */

const SELF = { pod: 'homelab-chatops-7d9f-abcde', namespace: 'chatops', node: 'pi5' };
let kube: FakeKube;
let app: App;

beforeAll(async () => {
  kube = await FakeKube.start({
    nodes: [
      { name: 'pi5', ready: true, roles: ['worker'], version: 'v1.31.4+k3s1' },
      { name: 'pi4-a', ready: true, roles: ['worker'], version: 'v1.31.4+k3s1' },
    ],
    pods: [
      {
        namespace: 'chatops',
        name: SELF.pod,
        node: 'pi5',
        ownerKind: 'ReplicaSet',
        ownerName: 'homelab-chatops-7d9f',
      },
      {
        namespace: 'default',
        name: 'web-7d9f-abcde',
        node: 'pi5',
        ownerKind: 'ReplicaSet',
        ownerName: 'web-7d9f',
      },
      {
        namespace: 'home',
        name: 'vikunja-0',
        node: 'pi5',
        ownerKind: 'StatefulSet',
        ownerName: 'vikunja',
      },
    ],
  });
  kube.evictionBehaviour = { deleteAfterMs: 50, reschedule: false };
  const { config } = loadConfig({
    env: { POD_NAME: SELF.pod, POD_NAMESPACE: SELF.namespace, NODE_NAME: SELF.node },
  });
  expect(config.self).toEqual(SELF);
  app = await startApp(
    testConfig({
      inventory: config.inventory,
      self: config.self,
      kube: { kubeconfig: kube.kubeconfigFile },
      access: { roles: { admin: { members: ['console:*'], allow: ['*'] } } },
      nodeOps: { drainTimeoutSeconds: 10 },
    }),
  );
});

afterAll(async () => {
  await app?.stop();
  await kube?.stop();
});

describe("draining the bot's own node", () => {
  it('the plan says the bot stays and goes down last on a reboot', async () => {
    const shown = (r: { title?: string; text?: string; code?: string; fields?: unknown }) =>
      `${r.title}\n${r.text ?? ''}\n${r.code ?? ''}\n${JSON.stringify(r.fields ?? [])}`;
    const drain = shown((await runCommand(app, '/node drain pi5 dry_run:true')).last());
    expect(drain).toMatch(
      /\n5\. leave chatops\/homelab-chatops-7d9f-abcde \(this bot\) running: every other pod goes first\n/,
    );
    const reboot = shown(
      (await runCommand(app, '/node reboot pi5 force:true dry_run:true')).last(),
    );
    expect(reboot).toContain(
      `leave chatops/${SELF.pod} (this bot) running: every other pod goes first; the reboot takes the bot down last`,
    );
    expect(reboot).toMatch(/pi5 runs this bot/);
  });

  it('evicts every other pod and leaves its own', async () => {
    const { result } = await runConfirmed(app, '/node drain pi5');
    const reply = result.last();
    expect(reply.severity).not.toBe('error');
    expect(reply.text).toContain(`chatops/${SELF.pod} (this bot) stays`);
    expect(kube.evictions.map((e) => `${e.namespace}/${e.name}`).sort()).toEqual([
      'default/web-7d9f-abcde',
      'home/vikunja-0',
    ]);
    expect(kube.pods('pi5').map((p) => p.metadata?.name)).toEqual([SELF.pod]);
    expect(kube.node('pi5')?.spec).toMatchObject({ unschedulable: true });
  });
});
