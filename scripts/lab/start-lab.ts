/**
 * Starts the local lab on loopback — the parts the tests use (test/helpers, test/fakes): real
 * sshd nodes for the demo's inventory, the fake Kubernetes API with the simulated Argo CD
 * controller, kubelets and longhorn-manager, three fake Pi-holes, the real Alertmanager and
 * real restic repositories — and writes the bot's config for it. A part whose program is not
 * installed is skipped with a line that says so. `stop()` stops everything it started.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { NodeConfig } from '../../src/config/schema.js';
import { FakeKube } from '../../test/fakes/kube/fake-kube.js';
import { FakePihole } from '../../test/fakes/pihole/fake-pihole.js';
import { freePort, startAlertmanager } from '../../test/helpers/alertmanager.js';
import { simulateKubelets } from '../../test/helpers/kubelet-sim.js';
import { linkLonghornToLab } from '../../test/helpers/longhorn-sim.js';
import { type SshLab, startSshLab } from '../../test/helpers/ssh-lab.js';
import { type LabParts, labConfig, writeLabConfig } from './lab-config.js';
import { DEMO_NODES, kubeSpec, labNodeSpecs, SUPPORT_NODES } from './lab-spec.js';
import { createResticRepos, resticInstalled } from './restic-repos.js';

export interface LabOptions {
  /** Where the config and the lab's files go (`.chatops/lab`). */
  dir: string;
  /** One line of what was started or skipped. */
  say: (line: string) => void;
  /**
   * Aborted on SIGINT/SIGTERM, before the test helpers' own signal hooks kill the sshd nodes
   * and remove their files: whatever reads those files stops first, and a start stops early.
   */
  signal: AbortSignal;
}

export interface RunningLab {
  configFile: string;
  stop(): Promise<void>;
}

const SSHD = process.env.SSHD_BIN ?? '/usr/sbin/sshd';
const ALERTMANAGER = process.env.ALERTMANAGER_BIN ?? 'prometheus-alertmanager';

const runs = (program: string, args: string[]) =>
  !spawnSync(program, args, { stdio: 'ignore' }).error;

/** The files of an earlier run (only what the lab writes: `--dir` may be any directory). */
function clearDir(dir: string): void {
  for (const f of ['config.yaml', 'ssh', 'restic', 'backup-source', 'state', 'kubeconfig.yaml']) {
    rmSync(path.join(dir, f), { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
}

/** The inventory the bot gets: the lab's sshd nodes, described as in the demo. */
function inventoryOf(lab: SshLab): NodeConfig[] {
  return lab.inventory().map((n) => {
    const demo = DEMO_NODES.find((d) => d.name === n.name);
    return {
      ...n,
      ...(demo?.description ? { description: demo.description } : {}),
      // The Pis' playbooks look for reboot-required in the node's run/ (emptied by a reboot).
      ...(n.os === 'raspios'
        ? {
            ansibleVars: {
              pi_reboot_required_file: path.join(lab.node(n.name).dir, 'run', 'reboot-required'),
            },
          }
        : {}),
    };
  });
}

export async function startLab(opts: LabOptions): Promise<RunningLab> {
  const { dir, say, signal } = opts;
  const going = () => {
    if (signal.aborted) throw new Error('stopped while starting');
  };
  const stops: (() => unknown)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const s of stops.reverse()) {
        try {
          await s();
        } catch (err) {
          say(`while stopping: ${(err as Error).message}`);
        }
      }
    })();
    return stopping;
  };
  try {
    clearDir(dir);
    const configFile = path.join(dir, 'config.yaml');
    const parts: Partial<LabParts> = { dir };

    let lab: SshLab | undefined;
    if (runs(SSHD, ['-V']) && runs('ssh-keygen', ['-?'])) {
      lab = await startSshLab({ nodes: labNodeSpecs(), rebootDelayMs: 3000 });
      stops.push(() => lab?.stop());
      const sshDir = path.join(dir, 'ssh');
      mkdirSync(sshDir, { recursive: true, mode: 0o700 });
      const key = path.join(sshDir, 'id_ed25519');
      copyFileSync(lab.privateKeyFile, key);
      const knownHosts = path.join(sshDir, 'known_hosts');
      copyFileSync(lab.knownHostsFile, knownHosts);
      parts.ssh = { privateKeyFile: key, knownHostsFile: knownHosts };
      parts.inventory = inventoryOf(lab);
      const hosts = lab.nodes.map((n) => `${n.name} ${n.host}:${n.port}`).join(', ');
      say(`nodes     ${lab.nodes.length} sshd nodes (${hosts}); a reboot takes 3 s`);
    } else {
      parts.inventory = DEMO_NODES.map(({ description: _, ...n }) => n);
      say(
        `nodes     skipped: openssh-server is not installed (no ${SSHD}); node actions show their plans and /backup is left out. Install it: apt-get install openssh-server`,
      );
    }

    going();
    const spec = kubeSpec();
    const kube = await FakeKube.start(spec);
    stops.push(() => kube.stop());
    kube.evictionBehaviour = { deleteAfterMs: 500, reschedule: true };
    // Slow enough to watch a sync go Running → Succeeded resource by resource.
    for (const app of spec.applications ?? []) {
      kube.controller.configure(app.name, { ticks: 4, tickMs: 600 });
    }
    if (lab) {
      const sim = simulateKubelets(lab, kube, { graceMs: 10_000, startDelayMs: 1000 });
      stops.push(() => sim.stop());
      signal.addEventListener('abort', () => sim.stop());
      linkLonghornToLab(lab, kube);
    }
    parts.kubeconfig = path.join(dir, 'kubeconfig.yaml');
    copyFileSync(kube.kubeconfigFile, parts.kubeconfig);
    say(
      `kube      ${kube.url}: nodes ${spec.nodes.map((n) => n.name).join(', ')}; ${spec.applications?.length} Argo CD apps; Longhorn volumes ${spec.longhorn?.volumes.map((v) => v.name).join(', ')}${lab ? '; kubelets follow the sshd nodes' : ''}`,
    );

    going();
    parts.piholes = [];
    for (const name of SUPPORT_NODES) {
      const password = randomBytes(9).toString('base64url');
      const pihole = await FakePihole.start({ password });
      stops.push(() => pihole.close());
      parts.piholes.push({ name, url: pihole.url, password });
    }
    say(`pi-hole   ${parts.piholes.map((p) => `${p.name} ${p.url}`).join(', ')}`);

    going();
    parts.httpPort = await freePort();
    parts.webhookToken = randomBytes(18).toString('base64url');
    const webhookUrl = `http://127.0.0.1:${parts.httpPort}/hooks/alertmanager`;
    if (runs(ALERTMANAGER, ['--version'])) {
      const am = await startAlertmanager({
        webhookUrl,
        token: parts.webhookToken,
        groupWait: '2s',
        groupInterval: '10s',
        repeatInterval: '4h',
      });
      stops.push(() => am.stop());
      parts.alertmanagerUrl = am.url;
      say(`alerts    Alertmanager ${am.url} → the bot's ${webhookUrl}`);
    } else {
      say(
        `alerts    no Alertmanager: prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager); --alert posts to ${webhookUrl} itself`,
      );
    }

    going();
    if (lab && resticInstalled()) {
      parts.restic = { ...createResticRepos(dir, SUPPORT_NODES), nodes: SUPPORT_NODES };
      say(
        `backups   restic repositories for ${SUPPORT_NODES.join(', ')} in ${path.join(dir, 'restic')}`,
      );
    } else {
      say(
        lab
          ? 'backups   skipped: restic is not installed (apt-get install restic)'
          : 'backups   skipped: they run over SSH',
      );
    }

    writeLabConfig(configFile, labConfig(parts as LabParts));
    return { configFile, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
