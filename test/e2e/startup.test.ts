import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { createLogger } from '../../src/core/logger.js';
import { FakeDiscord, snowflake } from '../fakes/discord/fake-discord.js';
import { FakeHomeserver } from '../fakes/matrix/fake-homeserver.js';
import { discordChat, testConfig } from '../helpers/app-fixture.js';
import { CLI, runCli, tempStateDir } from '../helpers/cli.js';

/**
 * Start-up: what stops the bot (exit 2 with the key and the fix, or exit 1 with a message, and
 * nothing left listening) and what it waits out (a chat server that is down: retried, /readyz
 * 503 meanwhile, serving once it is back).
 */

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A logger whose JSON lines the test can read. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: createLogger({ level: 'info', destination }), lines };
}

async function get(port: number, p: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: res.status, body: await res.text() };
}

async function until<T>(fn: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function writeConfig(dir: string, yaml: string): string {
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('a chat server that is down when the bot starts', () => {
  it('Discord: /readyz 503 with the attempt, each attempt logged, then serves once Discord is back', async () => {
    const port = await freePort();
    const appId = snowflake();
    const guildId = snowflake();
    const channel = snowflake();
    const user = snowflake();
    const { log, lines } = capturedLog();
    const config = testConfig({
      http: { enabled: true, port: 0 },
      chat: {
        discord: {
          token: 'fake-token',
          applicationId: appId,
          guildIds: [guildId],
          apiUrl: `http://127.0.0.1:${port}/api`,
          registerOnStart: true,
        },
      },
      access: { roles: { ops: { members: [`discord:${user}`], allow: ['*'] } } },
    });
    const app = await App.create({ config, log, reconnectDelayMs: 100 });
    cleanup.push(() => app.stop());
    const started = app.start();
    started.catch(() => undefined);
    const http = await until(() => app.httpPort);

    await until(() => lines.filter((l) => l.adapter === 'discord' && l.attempt).length >= 2);
    expect(await get(http, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    const readyz = await get(http, '/readyz');
    expect(readyz.status).toBe(503);
    expect(readyz.body).toMatch(/^starting: discord \(attempt \d+/);
    const warning = lines.find((l) => l.adapter === 'discord' && l.attempt === 1)!;
    expect(warning.msg).toBe('discord cannot be reached; trying again');
    expect(String(warning.err)).toMatch(/ECONNREFUSED|fetch failed/);

    const fake = await FakeDiscord.start(
      {
        appId,
        guildId,
        channels: [{ id: channel, name: 'ops' }],
        users: [{ id: user, username: 'ops' }],
      },
      port,
    );
    cleanup.push(() => fake.stop());
    await started;
    expect((await get(http, '/readyz')).status).toBe(200);
    expect(lines.some((l) => l.msg === 'chat connected' && l.adapter === 'discord')).toBe(true);
    const i = await fake.slashCommand({
      user,
      channelId: channel,
      name: 'node',
      subcommand: 'list',
    });
    await fake.waitFor(() => fake.interactionResponse(i).embeds.length > 0, 5000);
    expect(String(fake.interactionResponse(i).embeds[0]?.title)).toMatch(/nodes?/);
  });

  it('Matrix: retried until the homeserver answers, then joins its room and takes commands', async () => {
    const port = await freePort();
    const { log, lines } = capturedLog();
    const bot = '@chatops:lab.test';
    const alice = '@alice:lab.test';
    const room = '!ops:lab.test';
    const config = testConfig({
      chat: {
        matrix: {
          homeserverUrl: `http://127.0.0.1:${port}`,
          accessToken: 'bot-token',
          rooms: [room],
        },
      },
      access: { roles: { ops: { members: [`matrix:${alice}`], allow: ['*'] } } },
    });
    const app = await App.create({ config, log, reconnectDelayMs: 100 });
    cleanup.push(() => app.stop());
    const started = app.start();
    started.catch(() => undefined);
    await until(() => lines.filter((l) => l.adapter === 'matrix' && l.attempt).length >= 2);

    const hs = await FakeHomeserver.start(
      { botUserId: bot, accessToken: 'bot-token', rooms: [{ roomId: room, members: [alice] }] },
      port,
    );
    cleanup.push(() => hs.stop());
    await started;
    const ev = hs.sendMessage(room, alice, '!node list');
    const answer = await hs.waitFor(() =>
      hs.visible(room).find((m) => m.sender === bot && m.replyTo === ev),
    );
    expect(answer.body).toMatch(/nodes?/);
  });

  it('credentials the server refuses stop the start with what to check (no endless retry)', async () => {
    const fake = await FakeDiscord.start({ token: 'the-real-token' });
    cleanup.push(() => fake.stop());
    const app = await App.create({
      config: testConfig({ chat: { discord: discordChat(fake) } }),
      log: capturedLog().log,
      reconnectDelayMs: 100,
    });
    cleanup.push(() => app.stop());
    await expect(app.start()).rejects.toThrow(/discord refused the bot's credentials/);
  });

  it('Discord closing the gateway for good after start-up (4004: the token was reset): /readyz says so, nothing reconnects', async () => {
    const fake = await FakeDiscord.start();
    cleanup.push(() => fake.stop());
    const { log, lines } = capturedLog();
    const app = await App.create({
      config: testConfig({
        http: { enabled: true, port: 0 },
        chat: { discord: discordChat(fake) },
      }),
      log,
      reconnectDelayMs: 100,
    });
    cleanup.push(() => app.stop());
    await app.start();
    const http = await until(() => app.httpPort);
    expect((await get(http, '/readyz')).status).toBe(200);
    fake.dropGateway({ code: 4004 });
    await until(() => lines.some((l) => l.adapter === 'discord' && l.reason));
    const readyz = await get(http, '/readyz');
    expect(readyz.status).toBe(503);
    expect(readyz.body).toMatch(
      /^lost: discord \(Discord closed the gateway \(4004\): authentication failed: the bot token is wrong or was reset\)/,
    );
    expect((await get(http, '/healthz')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.stats.connections).toBe(1);
  });

  it('slash commands Discord refuses to register stop the start with what to do, after one session', async () => {
    const fake = await FakeDiscord.start();
    cleanup.push(() => fake.stop());
    const elsewhere = snowflake(); // a guild the bot was never invited to: 404 10004 Unknown Guild
    const app = await App.create({
      config: testConfig({ chat: { discord: { ...discordChat(fake), guildIds: [elsewhere] } } }),
      log: capturedLog().log,
      reconnectDelayMs: 100,
    });
    cleanup.push(() => app.stop());
    const err = await app.start().catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(
      new RegExp(
        `Discord refused the slash commands for guild ${elsewhere} \\(404 10004: Unknown Guild\\)`,
      ),
    );
    expect(String((err as { hint?: string }).hint)).toMatch(/applications\.commands/);
    // Not retried: every start-up attempt would cost one of the day's 1000 Identify calls.
    expect(fake.stats.identifies).toBe(1);
  });
});

describe('the console next to a remote chat', () => {
  it('end of stdin closes the console only: the bot goes on serving Discord (a pod has no stdin)', async () => {
    const fake = await FakeDiscord.start();
    cleanup.push(() => fake.stop());
    const state = tempStateDir();
    const discord = discordChat(fake);
    const file = writeConfig(
      state,
      [
        'chat:',
        '  console: { enabled: true }',
        '  discord:',
        `    token: ${discord.token}`,
        `    applicationId: "${discord.applicationId}"`,
        `    guildIds: ["${discord.guildIds[0]}"]`,
        `    apiUrl: ${discord.apiUrl}`,
        'http: { port: 0 }',
        `state: { dir: ${state} }`,
      ].join('\n'),
    );
    const child = spawn(process.execPath, [CLI, '--config', file], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    let exited: number | null | undefined;
    child.on('exit', (code) => {
      exited = code;
    });
    cleanup.push(async () => child.kill('SIGKILL'));
    child.stdin.end('/help\n');
    await until(() => /console input ended; the bot keeps running/.test(stderr), 15_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(exited).toBeUndefined();
    const port = Number(/"port":(\d+)/.exec(stderr)?.[1]);
    expect((await get(port, '/readyz')).status).toBe(200);
    child.kill('SIGTERM');
    await until(() => exited !== undefined);
    expect(exited).toBe(0);
  });
});

describe('a start that fails for another reason', () => {
  it('stops what it started and exits 1 with the cause: never a process that answers /healthz and delivers nothing', async () => {
    const state = tempStateDir();
    writeFileSync(path.join(state, 'alerts'), 'not a directory');
    const r = await runCli('/help\n', { env: { CHATOPS_STATE_DIR: state } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /homelab-chatops could not start: ENOTDIR: not a directory, mkdir '.*alerts/,
    );
    expect(r.stdout).toBe('');
  });
});

describe('start-up refuses what cannot work, with the key and the fix (exit 2, no stack trace)', () => {
  const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);

  it('a state dir that cannot be created or written', async () => {
    const base = tempStateDir();
    writeFileSync(path.join(base, 'file'), 'x');
    const r = await runCli('', { env: { CHATOPS_STATE_DIR: path.join(base, 'file', 'state') } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/state\.dir: .*file\/state: cannot be written \(ENOTDIR\)/);
    expect(r.stderr).toContain('CHATOPS_STATE_DIR');
    noStack(r.stderr);
  });

  it('files the config names: SSH key, known_hosts, kubeconfig, playbooks dir', async () => {
    const dir = tempStateDir();
    mkdirSync(path.join(dir, 'plays'));
    writeFileSync(path.join(dir, 'known_hosts'), '');
    const file = writeConfig(
      dir,
      [
        'ssh:',
        `  privateKeyFile: ${dir}/no-such-key`,
        `  knownHostsFile: ${dir}/known_hosts`,
        `kube: { kubeconfig: ${dir} }`,
        `nodeOps: { ansible: { playbooksDir: ${dir}/plays } }`,
        `state: { dir: ${dir}/state }`,
      ].join('\n'),
    );
    const r = await runCli('', { args: ['--config', file] });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`ssh.privateKeyFile: ${dir}/no-such-key: does not exist`);
    expect(r.stderr).not.toContain('ssh.knownHostsFile');
    expect(r.stderr).toContain(`kube.kubeconfig: ${dir}: is not a file`);
    expect(r.stderr).toContain(
      `nodeOps.ansible.playbooksDir: ${dir}/plays/provision-pi.yml: does not exist`,
    );
    noStack(r.stderr);
  });

  it('YAML alias bombs and alias cycles', async () => {
    const dir = tempStateDir();
    const laughs = [
      'lol: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      ...'bcdefgh'.split('').map((c, i) => {
        const prev = 'abcdefgh'[i];
        return `${c}: &${c} [${Array(9).fill(`*${prev}`).join(',')}]`;
      }),
    ].join('\n');
    const bomb = await runCli('', { args: ['--config', writeConfig(dir, laughs)] });
    expect(bomb.code).toBe(2);
    expect(bomb.stderr).toMatch(/Excessive alias count.*Write the values out/);
    noStack(bomb.stderr);

    const cycle = await runCli('', {
      args: ['--config', writeConfig(dir, 'inventory: &inv\n  nodes: [*inv]\n')],
    });
    expect(cycle.code).toBe(2);
    expect(cycle.stderr).toMatch(/inventory\.nodes\[0\]: refers to itself through a YAML alias/);
    noStack(cycle.stderr);
  });

  it('permission patterns that match no command, with the closest one', async () => {
    const dir = tempStateDir();
    const file = writeConfig(
      dir,
      [
        'access:',
        '  roles:',
        '    ops: { members: ["console:*"], allow: ["node.*", "argo.synk"] }',
        'dryRun: { commands: ["tasks.add"] }',
        `state: { dir: ${dir} }`,
      ].join('\n'),
    );
    const r = await runCli('/task add title:"would be real"\n', { args: ['--config', file] });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /access\.roles\.ops\.allow\[1\]: "argo\.synk" matches no command\. Did you mean "argo\.sync"\?/,
    );
    expect(r.stderr).toMatch(
      /dryRun\.commands\[0\]: "tasks\.add" matches no command\. Did you mean "task\.add"\?/,
    );
    expect(r.stdout).toBe('');
    noStack(r.stderr);
  });
});
