/**
 * Setup shared by the tests and benches that run the bot against the fakes: the config they
 * start from, the chat blocks that point the bot at the fake Discord and the fake homeserver,
 * starting the App in-process, and running a command as a console user.
 *
 * Nothing here registers hooks or keeps state: each test still starts its own fakes, keeps the
 * App it gets and stops it in its own afterAll.
 */
import path from 'node:path';
import { App, type AppOptions } from '../../src/app.js';
import { type Config, type ConfigInput, ConfigSchema } from '../../src/config/schema.js';
import type { ChatUser, Conversation } from '../../src/core/invocation.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Reply } from '../../src/core/reply.js';
import type { FakeDiscord } from '../fakes/discord/fake-discord.js';
import type { FakeKube } from '../fakes/kube/fake-kube.js';
import type { NodeSpec } from '../fakes/kube/seed.js';
import type { FakeHomeserver } from '../fakes/matrix/fake-homeserver.js';
import { tempStateDir } from './cli.js';
import { RecordingResponder } from './dispatcher.js';
import type { LabNodeSpec, SshLab } from './ssh-lab.js';

type Overrides<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: Overrides<T[K]> }
    : T;

/** What a test sets on top of {@link testConfig}'s defaults: any part of the config file. */
export type ConfigOverrides = Overrides<ConfigInput>;

/**
 * The config of a bot under test: a fresh temporary state dir, no HTTP server, no console
 * adapter, and `overrides` on top, parsed with the real schema (so a bad override fails as it
 * would in a config file). Plain objects merge key by key; anything else (arrays, strings,
 * numbers) replaces the default. HTTP on a port therefore needs `http: { enabled: true, port }`.
 */
export function testConfig(overrides: ConfigOverrides = {}): Config {
  const defaults = {
    state: { dir: overrides.state?.dir ?? tempStateDir() },
    http: { enabled: false },
    chat: { console: { enabled: false } },
  };
  return ConfigSchema.parse(merge(defaults, overrides));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

function merge(base: Record<string, unknown>, over: object): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? merge(current, value) : value;
  }
  return out;
}

/**
 * `chat.discord` for a bot talking to `fake`: its application and guild ids, its REST API, and
 * the slash commands registered on start unless `registerOnStart: false`. With `channels`, the
 * bot takes commands only there.
 */
export function discordChat(
  fake: FakeDiscord,
  opts: { channels?: string[]; registerOnStart?: boolean } = {},
) {
  return {
    token: 'fake-token',
    applicationId: fake.appId,
    guildIds: [fake.guildId],
    apiUrl: `${fake.url}/api`,
    registerOnStart: opts.registerOnStart ?? true,
    ...(opts.channels ? { channels: opts.channels } : {}),
  };
}

/** `chat.matrix` for a bot logging in to `hs` with its access token, in `rooms`. */
export function matrixChat(hs: FakeHomeserver, rooms: string[]) {
  return { homeserverUrl: hs.url, accessToken: hs.accessToken, rooms };
}

/**
 * Creates the App (a silent logger unless `opts.log`) and starts it. If starting fails, what did start is stopped
 * before the error is thrown, since the caller never gets the App to stop.
 */
export async function startApp(
  config: Config,
  opts: Partial<Omit<AppOptions, 'config'>> = {},
): Promise<App> {
  const app = await App.create({ config, log: silentLogger(), ...opts });
  try {
    await app.start();
  } catch (err) {
    await app.stop().catch(() => undefined);
    throw err;
  }
  return app;
}

/** The console user the in-process tests run commands as: `console:ops`. */
export const consoleOps: ChatUser = { platform: 'console', id: 'ops', displayName: 'ops' };
const consoleHere: Conversation = { platform: 'console', id: 'stdin' };

/** Runs one line of chat (`/argo list`) as `user` in the console, as typed; what it answered. */
export async function runCommand(
  app: App,
  text: string,
  user: ChatUser = consoleOps,
): Promise<RecordingResponder> {
  const r = new RecordingResponder();
  await app.dispatcher.handleText(text, user, consoleHere, r);
  return r;
}

/**
 * Runs a command that asks for confirmation and confirms it as the same user; the proposal,
 * and the responder the answers went to (the invocation's own, as in chat).
 */
export async function runConfirmed(
  app: App,
  text: string,
  user: ChatUser = consoleOps,
): Promise<{ proposal: Reply; result: RecordingResponder }> {
  const r = await runCommand(app, text, user);
  const proposal = r.last();
  const code = proposal.confirm?.code;
  if (!code) throw new Error(`expected a confirmation, got ${JSON.stringify(proposal)}`);
  await app.dispatcher.confirm(code, user, new RecordingResponder());
  return { proposal, result: r };
}

/**
 * What a bot acting on an ssh lab needs, as overrides for `testConfig`: the lab's inventory,
 * its key and pinned host keys, `console:*` as admin, and the fake Kubernetes API when given.
 * The Pis' playbook runs look for reboot-required in the node's run/ (emptied by a reboot, as
 * /run is) instead of the test machine's /var/run.
 */
export function labOverrides(lab: SshLab, kube?: FakeKube): ConfigOverrides {
  return {
    inventory: {
      nodes: lab.inventory().map((n) =>
        n.os === 'raspios'
          ? {
              ...n,
              ansibleVars: {
                pi_reboot_required_file: path.join(lab.node(n.name).dir, 'run', 'reboot-required'),
              },
            }
          : n,
      ),
    },
    access: { roles: { admin: { members: ['console:*'], allow: ['*'] } } },
    ssh: {
      privateKeyFile: lab.privateKeyFile,
      knownHostsFile: lab.knownHostsFile,
      connectTimeoutMs: 3000,
    },
    ...(kube ? { kube: { kubeconfig: kube.kubeconfigFile } } : {}),
  };
}

/**
 * The fake Kubernetes API's nodes for an ssh lab: every lab node with a k3sName, Ready, on
 * K3s v1.31.4, a control-plane or a worker as its roles say.
 */
export function kubeNodesFor(specs: readonly LabNodeSpec[]): NodeSpec[] {
  return specs
    .filter((s) => s.k3sName)
    .map((s) => ({
      name: s.k3sName!,
      ready: true,
      roles: [s.roles?.includes('control-plane') ? 'control-plane' : 'worker'],
      version: 'v1.31.4+k3s1',
    }));
}
