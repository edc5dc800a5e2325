/**
 * /node provision and /node update from chat, end to end: the bot's dispatcher → the real
 * `ansible-playbook` with the real playbooks → real sshd nodes (test/helpers/ssh-lab.ts) →
 * Ansible's become through the nodes' `sudo` (ANSIBLE_BECOME_ALLOW_SAME_USER: the lab logs in
 * as the test's own user) and its systemd module through their `systemctl`;
 * reboots go through the bot's own drain-and-reboot path against the fake Kubernetes API.
 *
 * What the fake nodes cannot do is configured the way a user would: `nodeOps.ansible.skipTags`
 * skips the apt tasks (they need a real Raspberry Pi OS package database and would install
 * packages on the test machine), and each node's `ansibleVars` point the playbooks at files
 * in that node's directory instead of /boot/firmware/cmdline.txt, /usr/local/bin and
 * /var/run/reboot-required. The K3s installer comes from a local server: a script that writes
 * what it was given where the real one writes its service env file.
 *
 * The tests tell one story in order, as a lab owner would live it: check, provision, provision
 * again (idempotent), update (the provisioned Pi asks for a reboot), … Each test says what it
 * relies on from the one before.
 */
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { createLogger } from '../../src/core/logger.js';
import { FakeKube } from '../fakes/kube/fake-kube.js';
import {
  consoleOps,
  kubeNodesFor,
  labOverrides,
  runCommand,
  runConfirmed,
  startApp,
  testConfig,
} from '../helpers/app-fixture.js';
import { RecordingResponder } from '../helpers/dispatcher.js';
import { type LabNode, type LabNodeSpec, type SshLab, startSshLab } from '../helpers/ssh-lab.js';

const TOKEN = 'K10f00dfeedc0ffee0123456789abcdef::server:5e3c7e7';
const ORIGINAL_CMDLINE =
  'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait\n';

/** Stands in for https://get.k3s.io: records what it was given where the real one writes it. */
const INSTALLER = `#!/bin/sh
set -e
dir=\${INSTALL_K3S_BIN_DIR:-/usr/local/bin}
case "$dir" in /usr/local/bin|/usr/bin|/bin) echo "test installer: refusing $dir" >&2; exit 1 ;; esac
echo "[INFO]  Using $INSTALL_K3S_VERSION as release"
printf 'K3S_URL=%s\\nK3S_TOKEN=%s\\nINSTALL_K3S_EXEC=%s\\n' "$K3S_URL" "$K3S_TOKEN" "$INSTALL_K3S_EXEC" > "$dir/k3s-agent.service.env"
printf '#!/bin/sh\\necho uninstalled\\n' > "$dir/k3s-agent-uninstall.sh"
chmod 755 "$dir/k3s-agent-uninstall.sh"
echo "[INFO]  systemd: Creating service file k3s-agent.service"
`;

const NODES: LabNodeSpec[] = [
  { name: 'x86', os: 'nixos', roles: ['control-plane'], k3sName: 'x86', groups: ['k3s'] },
  { name: 'pi-a', os: 'raspios', roles: ['worker'], k3sName: 'pi-a', groups: ['k3s', 'pis'] },
  {
    name: 'pi-b',
    os: 'raspios',
    roles: ['worker', 'bot-host'],
    k3sName: 'pi-b',
    groups: ['k3s', 'pis'],
  },
  { name: 'pi-c', os: 'raspios', roles: ['worker'], k3sName: 'pi-c', groups: ['k3s'] },
  { name: 'pi-d', os: 'raspios', roles: ['support'] }, // Pi-hole: not in K3s
];

let lab: SshLab;
let kube: FakeKube;
let app: App;
let installer: Server;
/** Everything the bot logged (JSON lines), to check that the token never shows up there. */
const logged: string[] = [];
const becomeBefore = process.env.ANSIBLE_BECOME_ALLOW_SAME_USER;
const downloads: string[] = [];

/** Where a node's playbook files are (its ansibleVars point there). */
const files = (node: LabNode) => ({
  cmdline: path.join(node.dir, 'boot', 'cmdline.txt'),
  rebootRequired: path.join(node.dir, 'run', 'reboot-required'),
  binDir: path.join(node.dir, 'usr-local-bin'),
});

beforeAll(async () => {
  // Ansible skips become when it logs in as the become user already; the lab logs in as
  // the test's user (root in CI), so make it become anyway, as it would as `pi`.
  process.env.ANSIBLE_BECOME_ALLOW_SAME_USER = 'true';
  installer = createServer((req, res) => {
    downloads.push(req.method ?? '');
    res.writeHead(200, {
      'content-type': 'text/x-shellscript',
      'content-length': Buffer.byteLength(INSTALLER),
    });
    res.end(req.method === 'HEAD' ? undefined : INSTALLER);
  });
  await new Promise<void>((r) => installer.listen(0, '127.0.0.1', r));
  const installerUrl = `http://127.0.0.1:${(installer.address() as AddressInfo).port}/install.sh`;

  [lab, kube] = await Promise.all([
    startSshLab({
      rebootDelayMs: 1000,
      nodes: NODES,
    }),
    FakeKube.start({
      nodes: kubeNodesFor(NODES),
      pods: [
        {
          namespace: 'default',
          name: 'web-7d9f-abcde',
          node: 'pi-a',
          ownerKind: 'ReplicaSet',
          ownerName: 'web-7d9f',
        },
      ],
    }),
  ]);
  kube.evictionBehaviour = { deleteAfterMs: 50, reschedule: true };
  for (const node of lab.nodes.filter((n) => n.os === 'raspios')) {
    const f = files(node);
    mkdirSync(path.dirname(f.cmdline), { recursive: true });
    mkdirSync(f.binDir, { recursive: true });
    writeFileSync(f.cmdline, ORIGINAL_CMDLINE);
    node.setUnitState('k3s-agent', 'inactive');
    node.setUnitEnabled('k3s-agent', 'disabled');
  }
  // The lab's own copy of the playbooks (nodeOps.ansible.playbooksDir), with one extra task.
  const playbooks = mkdtempSync(path.join(tmpdir(), 'chatops-playbooks-'));
  cpSync('playbooks', playbooks, { recursive: true });
  appendFileSync(
    path.join(playbooks, 'update.yml'),
    [
      '',
      "    - name: The lab's own step",
      '      ansible.builtin.debug:',
      '        msg: from the copy in nodeOps.ansible.playbooksDir',
      '      tags: [always]',
      '',
    ].join('\n'),
  );
  const config = testConfig({
    ...labOverrides(lab, kube),
    inventory: {
      nodes: lab.inventory().map((n) => {
        if (n.os !== 'raspios') return n;
        const f = files(lab.node(n.name));
        return {
          ...n,
          ansibleVars: {
            pi_cmdline_file: f.cmdline,
            pi_reboot_required_file: f.rebootRequired,
            k3s_bin_dir: f.binDir,
          },
        };
      }),
    },
    nodeOps: {
      drainTimeoutSeconds: 10,
      rebootTimeoutSeconds: 20,
      readyTimeoutSeconds: 20,
      k3s: { url: 'https://192.168.1.10:6443', token: TOKEN },
      ansible: {
        vars: { k3s_install_script_url: installerUrl, k3s_version: 'v1.31.4+k3s1' },
        skipTags: ['packages', 'apt'],
        playbooksDir: playbooks,
      },
    },
  });
  const log = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk, _enc, done) {
        logged.push(String(chunk));
        done();
      },
    }),
  });
  app = await startApp(config, { log });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await Promise.all([lab?.stop(), kube?.stop()]);
  await new Promise((r) => installer?.close(r));
  if (becomeBefore === undefined) delete process.env.ANSIBLE_BECOME_ALLOW_SAME_USER;
  else process.env.ANSIBLE_BECOME_ALLOW_SAME_USER = becomeBefore;
});

async function run(text: string, confirm = true): Promise<RecordingResponder> {
  return confirm ? (await runConfirmed(app, text)).result : runCommand(app, text);
}

const cordoned = (name: string) =>
  (kube.node(name)?.spec as { unschedulable?: boolean } | undefined)?.unschedulable ?? false;

describe('/node provision and /node update with real ansible-playbook', () => {
  it('provision check:true shows what would change, per task, and changes nothing', async () => {
    const r = await run('/node provision pi-a check:true');
    const reply = r.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('success');
    expect(reply.title).toMatch(/^provision-pi\.yml on pi-a \(check mode\): done in \d+ s$/);
    expect(reply.code).toMatch(/^HOST\s+OK\s+CHANGED\s+FAILED\s+UNREACHABLE\s+SKIPPED\n/);
    expect(reply.code).toMatch(/pi-a\s+\d+\s+[1-9]\d*\s+0\s+0\s+\d+/);
    expect(reply.fields).toContainEqual({
      name: 'Would need a reboot',
      value: 'pi-a — after a real run (its kernel command line would change)',
    });
    // Progress per task; every result in the step log.
    expect(r.progressed.map((p) => p.text)).toContain(
      'task 1: Refuse hosts that are not Raspberry Pi OS',
    );
    expect(r.steps).toContain(
      'changed: [pi-a] Enable the memory cgroup K3s needs — (item=cgroup_memory=1)',
    );
    expect(r.steps).toContain('changed: [pi-a] Install the K3s agent and join the cluster');
    expect(r.steps.some((s) => s.includes('Install base packages'))).toBe(false); // skipTags
    // Nothing changed on the node: no cmdline edit, no installer, no unit started.
    const f = files(lab.node('pi-a'));
    expect(readFileSync(f.cmdline, 'utf8')).toBe(ORIGINAL_CMDLINE);
    expect(() => readFileSync(path.join(f.binDir, 'k3s-agent.service.env'))).toThrow();
    expect(
      lab
        .node('pi-a')
        .calls('systemctl')
        .filter((c) => c.argv[1] !== 'show'),
    ).toEqual([]);
    expect(downloads).toEqual(['HEAD']);
  }, 120_000);

  it('provision for real: cgroups, the K3s agent joined with the token, the agent started — token never shown', async () => {
    const node = lab.node('pi-a');
    node.clearCalls();
    const r = await run('/node provision pi-a');
    const reply = r.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('success');
    expect(reply.title).toMatch(/^provision-pi\.yml on pi-a: done in \d+ s$/);
    const f = files(node);
    expect(readFileSync(f.cmdline, 'utf8')).toBe(
      `${ORIGINAL_CMDLINE.trimEnd()} cgroup_memory=1 cgroup_enable=memory\n`,
    );
    expect(readFileSync(path.join(f.binDir, 'k3s-agent.service.env'), 'utf8')).toBe(
      `K3S_URL=https://192.168.1.10:6443\nK3S_TOKEN=${TOKEN}\nINSTALL_K3S_EXEC=agent --node-name pi-a \n`,
    );
    expect(readFileSync(f.rebootRequired, 'utf8')).toBe('*** System restart required ***\n');
    // Ansible became root through the node's sudo, and its systemd module enabled and
    // started the agent there.
    const becomes = node.calls('sudo');
    expect(becomes.length).toBeGreaterThan(0);
    expect(becomes[0]!.argv.slice(0, 6)).toEqual(['sudo', '-H', '-S', '-n', '-u', 'root']);
    const changes = node
      .calls('systemctl')
      .filter((c) => ['enable', 'start'].includes(c.argv[1]!))
      .map((c) => [c.argv.slice(1).join(' '), c.sudo]);
    expect(changes).toEqual([
      ['enable k3s-agent', true],
      ['start k3s-agent', true],
    ]);
    expect(reply.fields).toContainEqual({
      name: 'Reboot required',
      value: 'pi-a — when ready: /node reboot pi-a',
    });
    expect(JSON.stringify([r.sent, r.progressed, r.steps])).not.toContain(TOKEN);
    // …nor in the bot's log, which did record the run (and the secret's name).
    const log = logged.join('');
    expect(log).toContain('running ansible-playbook');
    expect(log).toContain('k3s_token');
    expect(log).not.toContain(TOKEN);
  }, 120_000);

  it('a Pi outside K3s (no k3sName) is provisioned without the K3s part and needs no join token', async () => {
    const r = await run('/node provision pi-d check:true');
    const proposal = JSON.stringify(r.sent[0]);
    expect(proposal).toContain('no K3s agent (pi-d has no k3sName: not a K3s node)');
    expect(proposal).toContain('--skip-tags packages,apt,k3s');
    expect(proposal).not.toContain('k3s_url');
    const reply = r.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('success');
    expect(r.steps).toContain(
      'changed: [pi-d] Enable the memory cgroup K3s needs — (item=cgroup_memory=1)',
    );
    expect(r.steps.some((s) => /Install the K3s agent|Download the K3s installer/.test(s))).toBe(
      false,
    );
  }, 120_000);

  // Relies on the real provision above: the agent is installed, the cmdline has the cgroups.
  it('a second provision changes nothing', async () => {
    const r = await run('/node provision pi-a');
    expect(r.last().severity, JSON.stringify(r.last())).toBe('success');
    expect(r.last().code).toMatch(/pi-a\s+\d+\s+0\s+0\s+0\s+\d+/);
    expect(r.steps.filter((s) => s.startsWith('changed:'))).toEqual([]);
  }, 120_000);

  // Relies on the provision above: pi-a has the reboot-required mark, pi-b none.
  it('updates one node at a time and reboots the one that asks, through the safe path', async () => {
    // pi-a still has the reboot-required mark from provisioning; pi-b has none.
    const a = lab.node('pi-a');
    const b = lab.node('pi-b');
    const [rebootsA, rebootsB] = [a.reboots(), b.reboots()];
    a.clearCalls();
    b.clearCalls();
    const r = await run('/node update pis');
    const reply = r.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('success');
    expect(reply.title).toBe('Updated 2 nodes');
    expect(reply.text).toBe(
      'pi-a: updated, then rebooted safely (it asked for a reboot)\npi-b: updated, no reboot needed',
    );
    const at = (re: RegExp) => r.steps.findIndex((s) => re.test(s));
    expect(
      at(/^ok: \[pi-a\] Report whether a reboot is required — REBOOT_REQUIRED=true$/),
    ).toBeGreaterThan(-1);
    expect(
      at(/^ok: \[pi-b\] Report whether a reboot is required — REBOOT_REQUIRED=false$/),
    ).toBeGreaterThan(-1);
    // pi-a: cordoned, drained, rebooted, back, uncordoned — before pi-b was touched.
    const cordon = at(/^cordoned pi-a$/);
    const evicted = at(/^evicted default\/web-7d9f-abcde$/);
    const uncordon = at(/^uncordoned pi-a$/);
    const piB = at(/\[pi-b\]/);
    expect(
      [cordon, evicted, uncordon, piB].every((i) => i > -1),
      r.steps.join('\n'),
    ).toBe(true);
    expect(cordon).toBeLessThan(evicted);
    expect(evicted).toBeLessThan(uncordon);
    expect(uncordon).toBeLessThan(piB);
    expect(a.reboots()).toBe(rebootsA + 1);
    expect(b.reboots()).toBe(rebootsB);
    expect(b.calls('systemctl').filter((c) => c.argv[1] === 'reboot')).toEqual([]);
    // The playbooks came from nodeOps.ansible.playbooksDir.
    expect(r.steps).toContain(
      "ok: [pi-b] The lab's own step — from the copy in nodeOps.ansible.playbooksDir",
    );
    expect(cordoned('pi-a')).toBe(false);
    // The reboot cleared the mark (run/ is a tmpfs on the node).
    expect(() => readFileSync(files(a).rebootRequired)).toThrow();
  }, 120_000);

  it('does not reboot the bot host on its own; says why and how', async () => {
    const b = lab.node('pi-b');
    const rebootsB = b.reboots();
    writeFileSync(files(b).rebootRequired, '*** System restart required ***\n');
    const r = await run('/node update pi-b');
    const reply = r.last();
    expect(reply.severity, JSON.stringify(reply)).toBe('warning');
    expect(reply.title).toBe('Updated 1 node; pi-b still needs a reboot');
    expect(reply.text).toBe(
      'pi-b: updated; needs a reboot, not done automatically: pi-b runs this bot: the bot goes down with it and finishes the reboot from its journal once it is back. When it suits: /node reboot pi-b force:true',
    );
    expect(b.reboots()).toBe(rebootsB);
    expect(cordoned('pi-b')).toBe(false);
    rmSync(files(b).rebootRequired);
  }, 120_000);

  it('a Pi whose reboot would delete a bare pod is left updated and unrebooted; the next Pi goes ahead', async () => {
    const rebootsA = lab.node('pi-a').reboots();
    kube.addPod({ namespace: 'default', name: 'debug-shell', node: 'pi-a' });
    writeFileSync(files(lab.node('pi-a')).rebootRequired, '*** System restart required ***\n');
    try {
      const r = await run('/node update pis');
      const reply = r.last();
      expect(reply.severity, JSON.stringify(reply)).toBe('warning');
      expect(reply.title).toBe('Updated 2 nodes; pi-a still needs a reboot');
      expect(reply.text).toMatch(
        /^pi-a: updated; needs a reboot, not done — Not draining pi-a: 1 pod has no controller .*default\/debug-shell\..*\npi-b: updated, no reboot needed/,
      );
      expect(cordoned('pi-a')).toBe(false);
      expect(lab.node('pi-a').reboots()).toBe(rebootsA);
    } finally {
      kube.deletePod('default', 'debug-shell');
    }
  }, 120_000);

  it('one node operation at a time: a reboot asked for during a provision is refused, with who and what', async () => {
    const rebootsA = lab.node('pi-a').reboots();
    const provision = run('/node provision pi-c check:true');
    // Wait until the provision holds the cluster lock (taken before Ansible starts).
    const held = () => {
      try {
        app.services.lock.assertFree();
        return false;
      } catch {
        return true;
      }
    };
    await expect.poll(held, { timeout: 30_000 }).toBe(true);
    try {
      const r = await run('/node reboot pi-a', false);
      expect(r.last()).toMatchObject({
        severity: 'error',
        title:
          'Provisioning of pi-c is in progress (started by console:ops (ops) just now); one reboot, drain, provision or update at a time.',
        text: 'Wait for it to finish, then try again.',
      });
      expect(r.last().confirm).toBeUndefined();
    } finally {
      expect((await provision).last().severity).toBe('success');
    }
    expect(lab.node('pi-a').reboots()).toBe(rebootsA);
  }, 120_000);

  it('a node that does not answer is named before anything starts — at the proposal, or at Confirm when it went down in between', async () => {
    const a = lab.node('pi-a');
    lab.node('pi-b').clearCalls();
    await a.stop();
    try {
      const refused = (await run('/node update pis', false)).last();
      expect(refused.severity).toBe('error');
      expect(refused.confirm).toBeUndefined();
      expect(refused.title).toMatch(/^pi-a \(127\.0\.0\.\d+:\d+\) is not reachable/);
    } finally {
      await a.start();
    }
    // Proposed while it answered, down when confirmed: refused then, nothing touched.
    const r = await runCommand(app, '/node update pis');
    const code = r.last().confirm?.code;
    expect(code).toBeDefined();
    await a.stop();
    try {
      const answer = new RecordingResponder();
      await app.dispatcher.confirm(code!, consoleOps, answer);
      const all = [...r.sent, ...answer.sent].map((s) => s.reply);
      expect(all.at(-1)?.severity).toBe('error');
      expect(all.at(-1)?.title).toMatch(/^pi-a \(127\.0\.0\.\d+:\d+\) is not reachable/);
      expect(lab.node('pi-b').calls().length).toBe(0);
    } finally {
      await a.start();
    }
  }, 120_000);
});
