/**
 * deploy/config.yaml is a config the bot really starts with, in the pod the Deployment
 * describes: the real loader (src/config/load.ts) and the start-up file checks, with the
 * environment the pod gets (the image's ENV + the Deployment's env) and every
 * /run/secrets/chatops/<key> path a temp file, as the Secret volume provides it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkConfigFiles, checkStateDir } from '../../src/config/check-files.js';
import { loadConfig } from '../../src/config/load.js';
import { baseResources, DEPLOY, type Obj, one, ROOT, readYaml } from './manifests.js';

const resources = baseResources();
const deployment = one(resources, 'Deployment', 'homelab-chatops');
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const mountOf = (volume: string) =>
  (container.volumeMounts as Obj[]).find((m) => m.name === volume)!;
const secretMount = mountOf('secrets').mountPath as string;
const configText = readFileSync(path.join(DEPLOY, 'config.yaml'), 'utf8');
const secretKeys = Object.keys(readYaml(path.join(DEPLOY, 'secret.example.yaml')).stringData);

/** ENV of the Dockerfile's last stage (what the image sets before the Deployment's env). */
function imageEnv(): Record<string, string> {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lastStage = text.split(/^FROM /m).pop()!;
  const env: Record<string, string> = {};
  for (const line of lastStage.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, k, v] of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[k!] = v!;
  }
  return env;
}

/** The pod's environment: image ENV, then the Deployment's plain values (downward API aside). */
function podEnv(): Record<string, string> {
  const env = imageEnv();
  for (const e of container.env as Obj[]) if (typeof e.value === 'string') env[e.name] = e.value;
  return env;
}

/** `$(VAR)` in args, as the kubelet expands it. */
const expand = (arg: string, env: Record<string, string>) =>
  arg.replace(/\$\((\w+)\)/g, (_m, name: string) => env[name] ?? `$(${name})`);

const tmp = mkdtempSync(path.join(tmpdir(), 'chatops-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The config as the pod sees it: secret paths → temp files holding the example's placeholders. */
function podConfig() {
  const secrets = path.join(tmp, 'secrets');
  mkdirSync(secrets, { recursive: true });
  for (const key of secretKeys) writeFileSync(path.join(secrets, key), `placeholder ${key}\n`);
  const state = path.join(tmp, 'state');
  const file = path.join(tmp, 'config.yaml');
  writeFileSync(file, configText.replaceAll(`${secretMount}/`, `${secrets}/`));
  const env = { ...podEnv(), CHATOPS_STATE_DIR: state };
  return { ...loadConfig({ file, env }), state, secrets };
}

describe('deploy/config.yaml in the pod', () => {
  it('loads with the bot’s own loader, secrets from their files', () => {
    const { config } = podConfig();
    expect(config.chat.console.enabled).toBe(false);
    expect(config.kube?.inCluster).toBe(true);
    expect(config.kube?.kubeconfig).toBeUndefined();
    expect(config.http.host).toBe('0.0.0.0');
    expect(config.alerts.enabled).toBe(true);
    expect(config.alerts.webhook.token).toBe('placeholder alert-token');
    expect(config.chat.discord?.token).toBe('placeholder discord-token');
    expect(config.chat.matrix?.accessToken).toBe('placeholder matrix-token');
    expect(config.pihole?.instances.map((i) => i.password)).toEqual([
      'placeholder pihole-pi1-password',
      'placeholder pihole-pi2-password',
      'placeholder pihole-pi3-password',
    ]);
    expect(config.nodeOps.k3s.token).toBe('placeholder k3s-token');
    expect(config.tasks.repo).toMatch(/^git@/);
  });

  it('passes the start-up checks: files the config names, a writable state dir', () => {
    const { config, state } = podConfig();
    expect(checkConfigFiles(config)).toEqual([]);
    expect(checkStateDir(state)).toEqual([]);
  });

  it('the file the bot reads is the mounted ConfigMap’s config.yaml (args win over CHATOPS_CONFIG)', () => {
    const env = podEnv();
    const args = (container.args as string[]).map((a) => expand(a, env));
    expect(args).toEqual(['--config', env.CHATOPS_CONFIG]);
    expect(env.CHATOPS_CONFIG).toBe('/etc/chatops/config.yaml');
    expect(path.dirname(env.CHATOPS_CONFIG!)).toBe(mountOf('config').mountPath);
    expect(mountOf('config').readOnly).toBe(true);
  });

  it('keeps its state on the PVC: state.dir = CHATOPS_STATE_DIR = the volume’s mount', () => {
    const raw = readYaml(path.join(DEPLOY, 'config.yaml'));
    const env = podEnv();
    expect(env.CHATOPS_STATE_DIR).toBe('/var/lib/chatops');
    expect(raw.state.dir).toBe(env.CHATOPS_STATE_DIR);
    expect(mountOf('state').mountPath).toBe(env.CHATOPS_STATE_DIR);
    const claim = (pod.volumes as Obj[]).find((v) => v.name === 'state')!.persistentVolumeClaim;
    expect(one(resources, 'PersistentVolumeClaim', claim.claimName).spec).toMatchObject({
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '1Gi' } },
    });
  });

  it('listens where the probes, the container port and the Service point', () => {
    const { config } = podConfig();
    // In the file too, not only through the image's CHATOPS_HTTP_HOST.
    expect(readYaml(path.join(DEPLOY, 'config.yaml')).http).toMatchObject({
      host: '0.0.0.0',
      port: config.http.port,
    });
    const port = (container.ports as Obj[]).find((p) => p.name === 'http')!;
    expect(port.containerPort).toBe(config.http.port);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const service = one(resources, 'Service', 'homelab-chatops');
    expect(service.spec.ports).toEqual([
      { name: 'http', port: config.http.port, targetPort: 'http', protocol: 'TCP' },
    ]);
  });

  it('every secret file the pod uses is a key of the Secret, and every key is used', () => {
    const used = new Set<string>();
    const paths = [configText, ...(container.env as Obj[]).map((e) => String(e.value ?? ''))];
    for (const text of paths) {
      for (const [, key] of text.matchAll(new RegExp(`${secretMount}/([\\w.-]+)`, 'g'))) {
        used.add(key!);
      }
    }
    expect([...used].sort()).toEqual([...secretKeys].sort());
    expect(mountOf('secrets').readOnly).toBe(true);
  });
});

describe('the pod', () => {
  it('runs as the image’s user, read-only, without privileges', () => {
    // Dockerfile: `USER node` — uid/gid 1000 in the official node images.
    expect(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^USER node$/m);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    // The only writable places: the state volume and /tmp (HOME, for ssh, git, ansible).
    const writable = (container.volumeMounts as Obj[]).filter((m) => !m.readOnly);
    expect(writable.map((m) => m.mountPath).sort()).toEqual(['/tmp', '/var/lib/chatops']);
    expect(podEnv().HOME).toBe('/tmp');
    expect((pod.volumes as Obj[]).find((v) => v.name === 'tmp')?.emptyDir).toBeDefined();
  });

  it('one at a time, on pi5, also when pi5 is cordoned', () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'pi5' });
    expect(pod.tolerations).toContainEqual({
      key: 'node.kubernetes.io/unschedulable',
      operator: 'Exists',
      effect: 'NoSchedule',
    });
  });

  it('knows its name, namespace and node (downward API)', () => {
    const fields = Object.fromEntries(
      (container.env as Obj[])
        .filter((e) => e.valueFrom?.fieldRef)
        .map((e) => [e.name, e.valueFrom.fieldRef.fieldPath]),
    );
    expect(fields).toEqual({
      POD_NAME: 'metadata.name',
      POD_NAMESPACE: 'metadata.namespace',
      NODE_NAME: 'spec.nodeName',
    });
  });

  it('gets at least as long to stop as App.stop’s phases may take', () => {
    // src/app.ts: `await phase(what, fn, ms = 10_000)`; the adapter phase runs once per chat.
    const src = readFileSync(path.join(ROOT, 'src/app.ts'), 'utf8');
    const stop = src.slice(src.indexOf('async stop()'));
    const calls = [...stop.matchAll(/await phase\(([^;]*?)\);/gs)].map((m) => m[1]!);
    expect(calls.length).toBeGreaterThanOrEqual(4);
    const { config } = podConfig();
    const chats = [
      config.chat.discord,
      config.chat.matrix,
      config.chat.console.enabled || undefined,
    ];
    const adapters = chats.filter(Boolean).length;
    const seconds = calls.reduce((sum, call) => {
      const ms = /,\s*([\d_]+)\s*,?\s*$/.exec(call)?.[1];
      const each = ms ? Number(ms.replaceAll('_', '')) / 1000 : 10;
      return sum + (call.includes('adapter') ? each * adapters : each);
    }, 0);
    expect(seconds).toBe(85);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(seconds);
  });

  it('asks for what it uses and is limited to what a flood needs (docs/benchmarks.md)', () => {
    expect(container.resources).toEqual({
      requests: { cpu: '50m', memory: '192Mi' },
      limits: { memory: '384Mi' },
    });
    const bench = readFileSync(path.join(ROOT, 'docs/benchmarks.md'), 'utf8');
    // The benchmarks' figures measured with the Deployment's V8 flags, Node 20 / Node 24 (the image's).
    const flags = '`--max-old-space-size=256 --max-semi-space-size=2`';
    expect(podEnv().NODE_OPTIONS).toBe(flags.replaceAll('`', ''));
    const row = (start: string) => bench.split('\n').find((l) => l.startsWith(`| ${start}`)) ?? '';
    const highest = (line: string, after: string) => {
      const m = /(\d+)–(\d+) \/ (\d+)–(\d+) MB/.exec(line.slice(line.indexOf(after)));
      return Math.max(Number(m?.[2]), Number(m?.[4]));
    };
    const connected = highest(
      row('idle RSS with Discord and Matrix connected'),
      `now, with the bot's own Discord client and \`node:http\` instead of \`fetch\`, ${flags}:`,
    );
    const flood = highest(
      row('bot RSS peak, 10-connection webhook flood'),
      'now (own Discord client, `node:http`), with `--max-semi-space-size=2` too:',
    );
    const mib = (s: string) => Number(s.replace('Mi', '')) * 1.048576; // MiB → MB
    expect(connected).toBe(88);
    expect(flood).toBe(120);
    // Idle, plus the Kubernetes client and ssh2 the first node command loads (≤ 42 MB,
    // bench/first-use.bench.ts), + 20 %.
    expect(mib(container.resources.requests.memory)).toBeGreaterThan((connected + 42) * 1.2);
    expect(mib(container.resources.limits.memory)).toBeGreaterThan(flood * 1.5);
    // V8's old space stays below the limit, with room for the rest of the process and ansible.
    const heap = Number(/--max-old-space-size=(\d+)/.exec(podEnv().NODE_OPTIONS ?? '')?.[1]);
    expect(heap).toBeLessThanOrEqual(mib(container.resources.limits.memory) * 0.7);
  });
});
