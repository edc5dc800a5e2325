import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, printConfig } from '../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'chatops-config-'));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.format();
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config loading', () => {
  it('uses the built-in demo without a file: console, seed lab, lab actions as dry runs', () => {
    const { config, demo, source } = loadConfig({ env: {} });
    expect(demo).toBe(true);
    expect(source).toBe('built-in demo');
    expect(config.inventory.nodes.map((n) => n.name)).toEqual([
      'x86',
      'pi5',
      'pi4-a',
      'pi4-b',
      'pi1',
      'pi2',
      'pi3',
    ]);
    expect(config.dryRun.commands).toEqual(['node.*', 'argo.*', 'pihole.*', 'backup.*', 'alert.*']);
    expect(config.pihole?.instances.map((i) => i.url)).toEqual([
      'http://192.168.1.31',
      'http://192.168.1.32',
      'http://192.168.1.33',
    ]);
    expect(config.backup?.nodes).toEqual(['pi1', 'pi2', 'pi3']);
    expect(config.demo?.argoApps).toContain('home-assistant');
    expect(config.kube).toBeUndefined();
    expect(config.ssh).toBeUndefined();
    expect(config.access.roles.admin).toEqual({ members: ['console:*'], allow: ['*'] });
    expect(config.http).toEqual({ enabled: true, host: '127.0.0.1', port: 9095 });
    expect(config.state.dir).toBe('./.chatops');
  });

  it('applies env overrides for state dir, HTTP host and port', () => {
    const { config } = loadConfig({
      env: {
        CHATOPS_STATE_DIR: '/var/lib/chatops',
        CHATOPS_HTTP_PORT: '9100',
        CHATOPS_HTTP_HOST: '0.0.0.0',
      },
    });
    expect(config.state.dir).toBe('/var/lib/chatops');
    expect(config.http).toMatchObject({ host: '0.0.0.0', port: 9100 });
    expect(problemsOf(() => loadConfig({ env: { CHATOPS_HTTP_PORT: 'nine' } }))).toContain(
      'CHATOPS_HTTP_PORT: expected a port number 0-65535, got "nine"',
    );
  });

  it('reads the file named by --config or CHATOPS_CONFIG', () => {
    const f = file(
      'ok.yaml',
      'inventory:\n  nodes:\n    - { name: pi4-a, host: 10.0.0.21, os: raspios }\n',
    );
    expect(loadConfig({ file: f, env: {} }).config.inventory.nodes[0]).toMatchObject({
      name: 'pi4-a',
      port: 22,
      user: 'pi',
    });
    expect(loadConfig({ env: { CHATOPS_CONFIG: f } }).source).toBe(f);
  });

  it('names the line, the path and the fix for a wrong type', () => {
    const f = file(
      'bad.yaml',
      [
        'http:',
        '  port: "ninety"',
        'inventory:',
        '  nodes:',
        '    - name: pi4-a',
        '      os: raspbian',
        '',
      ].join('\n'),
    );
    const text = problemsOf(() => loadConfig({ file: f, env: {} }));
    expect(text).toContain(`Invalid configuration in ${f}:`);
    expect(text).toContain('line 2: http.port: expected number, got "ninety"');
    expect(text).toContain('line 5: inventory.nodes[0].host: required (expected string)');
    expect(text).toContain(
      'line 6: inventory.nodes[0].os: expected one of "nixos", "raspios", got "raspbian"',
    );
  });

  it('suggests the known key for a typo', () => {
    const f = file('typo.yaml', 'htp:\n  port: 1\n');
    expect(problemsOf(() => loadConfig({ file: f, env: {} }))).toContain(
      'line 1: htp: unknown key. Did you mean "http"?',
    );
  });

  it('reports a missing file and invalid YAML clearly', () => {
    expect(problemsOf(() => loadConfig({ file: path.join(dir, 'nope.yaml'), env: {} }))).toContain(
      'the file does not exist. Check the path, or start without --config/CHATOPS_CONFIG for the demo.',
    );
    const f = file('broken.yaml', 'http:\n  port: [1\n');
    expect(problemsOf(() => loadConfig({ file: f, env: {} }))).toMatch(/line \d+: not valid YAML/);
  });

  it('loads secrets from *File keys and env, and redacts them when printed', () => {
    const tokenFile = file('discord-token', 'file-token\n');
    const f = file(
      'secrets.yaml',
      `chat:\n  discord:\n    tokenFile: ${tokenFile}\n    applicationId: "1"\n    guildIds: ["2"]\n  matrix:\n    homeserverUrl: https://matrix.lab.example\n`,
    );
    const { config } = loadConfig({ file: f, env: { CHATOPS_MATRIX_TOKEN: 'env-token' } });
    expect(config.chat.discord?.token).toBe('file-token');
    expect(config.chat.matrix?.accessToken).toBe('env-token');
    const printed = printConfig(config);
    expect(printed).not.toContain('file-token');
    expect(printed).not.toContain('env-token');
    expect(printed).toContain('token: "[redacted]"');
    expect(
      problemsOf(() =>
        loadConfig({ file: f, env: { CHATOPS_DISCORD_TOKEN_FILE: '/nonexistent/t' } }),
      ),
    ).toContain('CHATOPS_DISCORD_TOKEN_FILE: cannot read /nonexistent/t (ENOENT)');
  });

  it('refuses duplicate node names', () => {
    const f = file(
      'dup.yaml',
      'inventory:\n  nodes:\n    - { name: pi1, host: a, os: raspios }\n    - { name: pi1, host: b, os: raspios }\n',
    );
    expect(problemsOf(() => loadConfig({ file: f, env: {} }))).toContain(
      'inventory.nodes[1].name: duplicate node name pi1',
    );
  });

  it('refuses Ansible variables the bot sets itself, and skipping the always tag', () => {
    const f = file(
      'ansible.yaml',
      [
        'nodeOps:',
        '  ansible:',
        '    vars:',
        '      ansible_host_key_checking: "false"',
        '      k3s_version: v1.31.4+k3s1',
        '    skipTags: [always]',
        'inventory:',
        '  nodes:',
        '    - name: pi4-a',
        '      host: 192.168.1.21',
        '      os: raspios',
        '      ansibleVars: { k3s_token: oops, k3s_agent_args: --node-label=a=b }',
        '',
      ].join('\n'),
    );
    const text = problemsOf(() => loadConfig({ file: f, env: {} }));
    expect(text).toMatch(
      /nodeOps\.ansible\.vars\.ansible_host_key_checking: set by the bot itself: ansible_\* would change how Ansible connects/,
    );
    expect(text).toMatch(/inventory\.nodes\[0\]\.ansibleVars\.k3s_token: set by the bot itself/);
    expect(text).toContain('nodeOps.ansible.skipTags[0]: the always tag carries the reboot check');
    expect(text).not.toContain('k3s_version');
    expect(text).not.toContain('k3s_agent_args');
  });

  it('refuses Matrix power-level roles without chat.matrix.rooms (a room of her own would grant them)', () => {
    const role =
      'access:\n  roles:\n    ops: { members: ["matrix:powerlevel>=50"], allow: ["task.*"] }\n';
    const matrix = (rooms: string) =>
      `chat:\n  matrix: { homeserverUrl: "https://m.lab.example", accessToken: t${rooms} }\n`;
    const without = file('pl-no-rooms.yaml', `${role}${matrix('')}`);
    expect(problemsOf(() => loadConfig({ file: without, env: {} }))).toMatch(
      /access\.roles\.ops\.members\[0\]: power-level members need chat\.matrix\.rooms/,
    );
    const noMatrix = file('pl-no-matrix.yaml', role);
    expect(problemsOf(() => loadConfig({ file: noMatrix, env: {} }))).toContain(
      'power-level members need chat.matrix.rooms',
    );
    const withRooms = file('pl-rooms.yaml', `${role}${matrix(', rooms: ["!ops:lab.example"]')}`);
    expect(loadConfig({ file: withRooms, env: {} }).config.access.roles.ops?.members).toEqual([
      'matrix:powerlevel>=50',
    ]);
  });

  it('refuses webhook basic auth without a password, or with an empty one', () => {
    const noPassword = file('basic-nopw.yaml', 'alerts:\n  webhook: { username: alertmanager }\n');
    expect(problemsOf(() => loadConfig({ file: noPassword, env: {} }))).toMatch(
      /alerts\.webhook\.password: required with alerts\.webhook\.username/,
    );
    const empty = file('basic-empty.yaml', 'alerts:\n  webhook: { username: am, password: "" }\n');
    expect(problemsOf(() => loadConfig({ file: empty, env: {} }))).toContain(
      'alerts.webhook.password: must not be empty',
    );
    const noUser = file('basic-nouser.yaml', 'alerts:\n  webhook: { password: s3cret }\n');
    expect(problemsOf(() => loadConfig({ file: noUser, env: {} }))).toContain(
      'alerts.webhook.username: required with alerts.webhook.password',
    );
  });

  it('redacts credentials in URLs (tasks.repo with a token) when printing the config', () => {
    const f = file(
      'repo-token.yaml',
      'tasks:\n  repo: https://bot:ghp_abc123SECRET@git.lab.example/lab.git\npihole:\n  instances: [{ name: pi1, url: "http://admin:hunter2@10.0.0.11", password: x }]\n',
    );
    const printed = printConfig(loadConfig({ file: f, env: {} }).config);
    expect(printed).not.toContain('ghp_abc123SECRET');
    expect(printed).not.toContain('hunter2');
    expect(printed).toContain('repo: https://bot:[redacted]@git.lab.example/lab.git');
  });
});
