import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { labOverrides, runCommand, startApp, testConfig } from '../helpers/app-fixture.js';
import { tempStateDir } from '../helpers/cli.js';
import { type SshLab, startSshLab } from '../helpers/ssh-lab.js';

/**
 * A kubeconfig that is configured but cannot be loaded (replaced by a broken file after the
 * start-up check, a Secret mounted wrong): SSH-only commands go on working, and steps that
 * need Kubernetes refuse with the reason instead of, say, rebooting a node without draining it.
 */

let lab: SshLab;
let app: App;
let kubeconfig: string;

beforeAll(async () => {
  lab = await startSshLab({
    nodes: [{ name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a' }],
  });
  kubeconfig = path.join(tempStateDir(), 'kubeconfig');
  writeFileSync(kubeconfig, 'apiVersion: v1\nclusters: [\n');
  app = await startApp(
    testConfig({
      ...labOverrides(lab),
      kube: { kubeconfig },
      nodeOps: { statusTimeoutSeconds: 5 },
    }),
  );
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await lab?.stop();
});

describe('a broken kubeconfig', () => {
  it('/node status still reads the node over SSH and says why K3s is missing', async () => {
    const reply = (await runCommand(app, '/node status pi4-a')).last();
    expect(reply.title).toBe('1 node up');
    expect(reply.code).toMatch(/pi4-a\s+up\s+/);
    expect(reply.code).toMatch(/API error/);
  });

  it('/node logs works (SSH only)', async () => {
    const reply = (await runCommand(app, '/node logs pi4-a k3s-agent')).last();
    expect(reply.severity).not.toBe('error');
    expect(lab.node('pi4-a').calls('journalctl').length).toBeGreaterThan(0);
  });

  it('/node reboot refuses before proposing, with the kubeconfig problem; nothing reaches the node', async () => {
    lab.node('pi4-a').clearCalls();
    const reply = (await runCommand(app, '/node reboot pi4-a')).last();
    expect(reply.severity).toBe('error');
    expect(reply.title).toMatch(/^Cannot load the kubeconfig .*kubeconfig/);
    expect(reply.text).toContain('Check kube.kubeconfig');
    expect(reply.confirm).toBeUndefined();
    expect(lab.node('pi4-a').reboots()).toBe(0);
  });

  it('is loaded again on the next command once it is fixed', async () => {
    writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n',
    );
    const reply = (await runCommand(app, '/node reboot pi4-a')).last();
    // Now it loads, and says what is wrong with it instead.
    expect(`${reply.title} ${reply.text ?? ''}`).toMatch(/names no cluster/);
  });
});
