/**
 * The Ansible runner. Pure parts (inventory, output parser, input checks) without Ansible;
 * then real `ansible-playbook` runs over real SSH against the ssh lab's fake nodes: a safe
 * probe playbook, provision-pi.yml in check mode, its cgroups part for real on a scratch
 * cmdline.txt, and update.yml with apt skipped. Ansible starts slowly (1–2 s, more per
 * task), so the real runs are few and run concurrently, each on its own nodes.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import type { NodeConfig } from '../../src/config/schema.js';
import { UserError } from '../../src/core/errors.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import {
  ansibleInventory,
  explainUnreachable,
  type PlaybookEvent,
  PlaybookOutputParser,
  type PlaybookResult,
  runPlaybook,
  unsafeVarsYaml,
} from '../../src/infra/ansible.js';
import { HostKeyMismatchError, UnknownHostError } from '../../src/infra/ssh-errors.js';
import { type SshLab, startSshLab } from '../helpers/ssh-lab.js';

const run = promisify(execFile);
const PLAYBOOKS = resolve('playbooks');
const FIXTURES = resolve('test/fixtures/ansible');

const node = (over: Partial<NodeConfig> & { name: string }): NodeConfig => ({
  host: `${over.name}.lan`,
  port: 22,
  user: 'pi',
  os: 'raspios',
  roles: [],
  groups: [],
  ...over,
});

describe('ansibleInventory', () => {
  const ssh = { privateKeyFile: '/keys/bot_ed25519', knownHostsFile: '/keys/known_hosts' };
  const nodes = [
    node({
      name: 'x86',
      host: '192.168.1.10',
      user: 'admin',
      os: 'nixos',
      groups: ['k3s', 'servers'],
      k3sName: 'x86',
    }),
    node({
      name: 'pi4-a',
      host: '192.168.1.21',
      port: 2201,
      groups: ['k3s', 'workers', 'pis'],
      k3sName: 'pi4-a',
    }),
    node({ name: 'pi1', host: '192.168.1.31', groups: ['support', 'pis', 'all'] }),
  ];

  test('pins host keys the way the bot does and keeps the groups', () => {
    const text = ansibleInventory(nodes, ssh);
    const inv = parse(text);
    const pi4 = inv.all.hosts['pi4-a'];
    expect(pi4).toMatchObject({
      ansible_host: '192.168.1.21',
      ansible_port: 2201,
      ansible_user: 'pi',
      ansible_ssh_private_key_file: '/keys/bot_ed25519',
      ansible_host_key_checking: true,
      ansible_python_interpreter: '/usr/bin/python3',
      chatops_os: 'raspios',
      k3s_node_name: 'pi4-a',
    });
    const args: string = pi4.ansible_ssh_common_args;
    expect(args).toContain('-o StrictHostKeyChecking=yes');
    expect(args).toContain('-o UserKnownHostsFile=/keys/known_hosts');
    expect(args).toContain('-o GlobalKnownHostsFile=/dev/null');
    expect(text).not.toMatch(/accept-new|StrictHostKeyChecking=no|UserKnownHostsFile=\/dev\/null/);
    // NixOS has no /usr/bin/python3: Ansible discovers it there.
    expect(inv.all.hosts.x86.ansible_python_interpreter).toBeUndefined();
    expect(inv.all.hosts.x86.ansible_user).toBe('admin');
    expect(inv.all.hosts.pi1.k3s_node_name).toBeUndefined();
    expect(Object.keys(inv.all.children)).toEqual(['k3s', 'pis', 'servers', 'support', 'workers']);
    expect(Object.keys(inv.all.children.pis.hosts)).toEqual(['pi4-a', 'pi1']);
    expect(Object.keys(inv.all.children.k3s.hosts)).toEqual(['x86', 'pi4-a']);
    expect(inv.all.children.all).toBeUndefined();
  });

  test('refuses values Ansible would template and paths ssh would split', () => {
    expect(() =>
      ansibleInventory([node({ name: 'a', host: "{{ lookup('pipe','id') }}" })], ssh),
    ).toThrow(UserError);
    expect(() =>
      ansibleInventory([node({ name: 'a' })], { ...ssh, knownHostsFile: '/my keys/known_hosts' }),
    ).toThrow(/without spaces/);
  });

  test('extra vars are written as !unsafe so Ansible never templates them', () => {
    expect(unsafeVarsYaml({ a: "{{ lookup('pipe', 'id') }}", b: 'x"y' })).toBe(
      `a: !unsafe "{{ lookup('pipe', 'id') }}"\nb: !unsafe "x\\"y"\n`,
    );
  });
});

describe('PlaybookOutputParser (lines captured from ansible-core 2.14)', () => {
  test('loops, ignored failures, pretty blocks, unreachable hosts and the recap', () => {
    const lines = [
      '',
      'PLAY [Loops] *******************************************************************',
      '',
      'TASK [Loop fail] ***************************************************************',
      'skipping: [h2] => (item=a) ',
      'skipping: [h2]',
      'changed: [h1] => (item=a)',
      'failed: [h1] (item=b) => {"ansible_loop_var": "item", "changed": true, "cmd": ["test", "b", "=", "a"], "item": "b", "msg": "non-zero return code", "rc": 1, "stderr": "", "stdout": ""}',
      '',
      'TASK [Ignored] *****************************************************************',
      'fatal: [h2]: FAILED! => {"changed": true, "msg": "non-zero return code", "rc": 1, "stderr": "boom", "stdout": ""}',
      '...ignoring',
      '',
      'TASK [Secret] ******************************************************************',
      `fatal: [h2]: FAILED! => {"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result", "changed": true}`,
      'TASK [Debug] *******************************************************************',
      'ok: [h3 -> localhost] => {',
      '    "msg": "REBOOT_REQUIRED=true"',
      '}',
      'fatal: [h4]: UNREACHABLE! => {"changed": false, "msg": "Failed to connect to the host via ssh: ssh: connect to host 10.0.0.4 port 22: Connection refused", "unreachable": true}',
      '',
      'RUNNING HANDLER [Hand] *********************************************************',
      'ok: [h3] => {"msg": "REBOOT_REQUIRED=false"}',
      'PLAY RECAP *********************************************************************',
      'h1                         : ok=0    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0   ',
      'h2                         : ok=2    changed=2    unreachable=0    failed=1    skipped=1    rescued=0    ignored=1   ',
    ];
    const p = new PlaybookOutputParser();
    const events = [...lines.flatMap((l) => p.push(l)), ...p.end()];
    expect(events).toEqual([
      { type: 'play', message: 'Loops' },
      { type: 'task', task: 'Loop fail' },
      { type: 'skipped', host: 'h2', task: 'Loop fail', message: '(item=a)' },
      { type: 'skipped', host: 'h2', task: 'Loop fail' },
      { type: 'changed', host: 'h1', task: 'Loop fail', message: '(item=a)' },
      {
        type: 'failed',
        host: 'h1',
        task: 'Loop fail',
        message: '(item=b) non-zero return code (rc=1)',
      },
      { type: 'task', task: 'Ignored' },
      {
        type: 'failed',
        host: 'h2',
        task: 'Ignored',
        message: 'non-zero return code (rc=1): boom (ignored)',
      },
      { type: 'task', task: 'Secret' },
      { type: 'failed', host: 'h2', task: 'Secret', message: 'output hidden (no_log: true)' },
      { type: 'task', task: 'Debug' },
      { type: 'ok', host: 'h3', task: 'Debug', message: 'REBOOT_REQUIRED=true' },
      {
        type: 'unreachable',
        host: 'h4',
        task: 'Debug',
        message: expect.stringContaining('Connection refused'),
      },
      { type: 'task', task: 'Hand', message: 'handler' },
      { type: 'ok', host: 'h3', task: 'Hand', message: 'REBOOT_REQUIRED=false' },
    ]);
    expect(
      p.failures.map((f) => `${f.host}/${f.task}${f.unreachable ? ' unreachable' : ''}`),
    ).toEqual(['h1/Loop fail', 'h2/Secret', 'h4/Debug unreachable']);
    expect(p.stats.h2).toEqual({ ok: 2, changed: 2, unreachable: 0, failed: 1, skipped: 1 });
    expect(p.rebootRequired).toEqual([]); // the handler's later marker said false
  });
});

describe("explainUnreachable (a stand-in for the bot's SSH pool)", () => {
  const nodes = [node({ name: 'a', host: '10.0.0.1' }), node({ name: 'b', host: '10.0.0.2' })];
  const result = (): PlaybookResult => ({
    exitCode: 4,
    stats: {},
    failures: [
      { host: 'a', task: 'T', message: 'Data could not be sent … Broken pipe', unreachable: true },
      { host: 'b', task: 'T', message: 'Connection refused', unreachable: true },
      { host: 'b', task: 'U', message: 'a task that failed' },
    ],
    rebootRequired: [],
    rebootMarkers: {},
    durationMs: 1,
  });

  test("a host whose key the bot refuses is explained; a host that is down, and failed tasks, keep Ansible's words", async () => {
    const probed: string[] = [];
    const r = result();
    await explainUnreachable(
      r,
      nodes,
      {
        reachable: async (t) => {
          probed.push(t.name);
          if (t.name === 'a')
            throw new HostKeyMismatchError(t, ['SHA256:old'], 'SHA256:new', '/kh');
          return false;
        },
      },
      silentLogger(),
    );
    expect(probed.sort()).toEqual(['a', 'b']);
    expect(r.failures[0]!.message).toBe(
      'HOST KEY MISMATCH for a (10.0.0.1:22): expected SHA256:old, got SHA256:new — refusing to connect. If the node was reinstalled, update the known_hosts file (/kh); otherwise someone may be intercepting.\n' +
        "To re-pin after a reinstall: remove the node's old line from /kh, run `ssh-keyscan 10.0.0.1 >> /kh`, and compare the new fingerprint (`ssh-keygen -lf /kh`) with the one shown on the node's own console (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`).",
    );
    expect(r.failures.slice(1).map((f) => f.message)).toEqual([
      'Connection refused',
      'a task that failed',
    ]);
  });

  test('no pinned key is explained too; a probe that fails otherwise changes nothing', async () => {
    const r = result();
    await explainUnreachable(
      r,
      nodes,
      {
        reachable: async (t) => {
          if (t.name === 'a') throw new UnknownHostError(t, '/kh');
          throw new Error('the SSH pool is closed');
        },
      },
      silentLogger(),
    );
    expect(r.failures[0]!.message).toMatch(
      /^a \(10\.0\.0\.1:22\) has no pinned host key in \/kh — refusing to connect to an unverified host\.\nPin it: /,
    );
    expect(r.failures[1]!.message).toBe('Connection refused');
  });
});

describe('runPlaybook refuses before starting Ansible', () => {
  const ssh = { privateKeyFile: '/k', knownHostsFile: '/kh' };
  const base = {
    playbook: join(FIXTURES, 'safe-probe.yml'),
    nodes: [node({ name: 'a' })],
    limit: ['a'],
    ssh,
    logger: silentLogger(),
  };

  test('a missing ansible-playbook binary is a UserError that says what to install', async () => {
    const err = await runPlaybook({ ...base, binary: '/nonexistent/ansible-playbook' }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/not found: install ansible-core/);
  });

  test('bad limits, variable names and playbooks', async () => {
    await expect(runPlaybook({ ...base, limit: [] })).rejects.toThrow(/no nodes/);
    await expect(runPlaybook({ ...base, limit: ['pi9'] })).rejects.toThrow(
      'pi9 is not in the inventory; known nodes: a',
    );
    await expect(runPlaybook({ ...base, extraVars: { 'a b': 'x' } })).rejects.toThrow(UserError);
    await expect(runPlaybook({ ...base, playbook: '/nope.yml' })).rejects.toThrow(
      /playbook not found/,
    );
  });
});

describe('with real ansible-playbook and sshd', () => {
  let lab: SshLab;
  let work: string;

  beforeAll(async () => {
    lab = await startSshLab({
      nodes: [
        { name: 'probe-a', os: 'raspios', groups: ['pis'] },
        { name: 'probe-b', os: 'raspios', groups: ['pis'] },
        { name: 'probe-c', os: 'raspios', groups: ['pis'] },
        { name: 'prov-d', os: 'raspios', groups: ['pis', 'workers'], k3sName: 'prov-d' },
        { name: 'cg-e', os: 'raspios' },
        { name: 'upd-f', os: 'raspios' },
        { name: 'slow-g', os: 'raspios' },
        { name: 'key-h', os: 'raspios' },
      ],
    });
    // "Reinstalled" nodes: the pinned key no longer matches.
    await lab.node('probe-c').rotateHostKey();
    await lab.node('key-h').rotateHostKey();
    work = await mkdtemp(join(tmpdir(), 'chatops-ansible-test-'));
  });

  afterAll(async () => {
    await lab?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const sshOf = () => ({ privateKeyFile: lab.privateKeyFile, knownHostsFile: lab.knownHostsFile });

  /** The bot's explanation of a changed host key: the node, its keys, the pinned file, what to do. */
  const expectMismatchExplained = (message: string, name: string) => {
    const n = lab.node(name);
    const file = lab.knownHostsFile;
    expect(message).toMatch(
      new RegExp(`^HOST KEY MISMATCH for ${name} \\(${n.host}:${n.port}\\): expected SHA256:`),
    );
    const got = /, got (SHA256:\S+) — refusing to connect\./.exec(message)?.[1];
    expect(n.hostKeys().map((k) => k.fingerprint)).toContain(got);
    expect(message).toContain(`update the known_hosts file (${file})`);
    expect(message).toContain(
      `To re-pin after a reinstall: remove the node's old line from ${file}, run \`ssh-keyscan -p ${n.port} ${n.host} >> ${file}\``,
    );
  };

  test('both playbooks and the fixture pass --syntax-check', async () => {
    const { stdout } = await run(
      'ansible-playbook',
      [
        '--syntax-check',
        '-i',
        'localhost,',
        join(PLAYBOOKS, 'provision-pi.yml'),
        join(PLAYBOOKS, 'update.yml'),
        join(FIXTURES, 'safe-probe.yml'),
      ],
      { env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_NOCOWS: '1' } },
    );
    expect(stdout).toMatch(/playbook: .*provision-pi\.yml/);
    expect(stdout).toMatch(/playbook: .*update\.yml/);
  }, 60_000);

  test.concurrent('safe probe: streamed events, per-host stats, a planned failure, a changed host key, secrets kept out', async () => {
    const secret = 'S3cret-token-9f8e7d6c';
    const markerDir = await mkdtemp(join(work, 'markers-'));
    const logLines: string[] = [];
    const logger = createLogger({
      level: 'trace',
      destination: new Writable({
        write(chunk, _enc, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    });
    const events: PlaybookEvent[] = [];
    let sshSeen = false;
    let seen:
      | { argv: string[]; secretFileMode: number; dirMode: number; leaks: string[] }
      | undefined;
    const result = await runPlaybook({
      playbook: join(FIXTURES, 'safe-probe.yml'),
      nodes: lab.inventory(),
      limit: ['probe-a', 'probe-b', 'probe-c'],
      extraVars: { marker_dir: markerDir, marker_text: 'hello {{ 7 * 7 }}', fail_host: 'probe-b' },
      secretVars: { probe_secret: secret },
      ssh: sshOf(),
      logger,
      onEvent: (e) => {
        events.push(e);
        // While it runs: once before connecting, once with ssh up.
        if ((e.type === 'task' && !seen) || (e.host && !sshSeen)) {
          const now = inspectProcesses(secret);
          if (seen) sshSeen = true;
          seen = seen ? { ...seen, leaks: [...seen.leaks, ...now.leaks] } : now;
        }
      },
    });

    // The run: probe-a all through, probe-b stops at the planned failure, probe-c never connects.
    expect(result.exitCode).toBe(4); // unreachable outranks failed
    expect(result.stats).toEqual({
      'probe-a': { ok: 5, changed: 1, unreachable: 0, failed: 0, skipped: 1 },
      'probe-b': { ok: 2, changed: 1, unreachable: 0, failed: 1, skipped: 0 },
      'probe-c': { ok: 0, changed: 0, unreachable: 1, failed: 0, skipped: 0 },
    });
    expect(result.failures).toHaveLength(2);
    expect(result.failures).toContainEqual({
      host: 'probe-b',
      task: 'Fail on one host',
      message: 'planned failure on probe-b',
    });
    const keyFailure = result.failures.find((f) => f.host === 'probe-c')!;
    expect(keyFailure.task).toBe('Check the K3s agent');
    // Whatever Ansible printed (ssh's "REMOTE HOST IDENTIFICATION HAS CHANGED", or its own
    // "Broken pipe" when it loses the race with ssh's exit), the bot's own SSH probed the host
    // and says what is wrong and what to do (the forced "Broken pipe": the test below).
    expectMismatchExplained(keyFailure.message, 'probe-c');
    expect(lab.node('probe-c').logins()).toBe(0);
    expect(lab.node('probe-c').calls()).toEqual([]);
    expect(result.rebootRequired).toEqual(['probe-a']);

    // Streamed in order: tasks as in the playbook, each result under its own task.
    expect(events[0]).toEqual({ type: 'play', message: 'Safe probe' });
    expect(events.filter((e) => e.type === 'task').map((e) => e.task)).toEqual([
      'Check the K3s agent',
      'Write a marker file',
      'Fail on one host',
      'Leak the secret by mistake',
      'Use the secret quietly',
      'Report the reboot marker',
    ]);
    let current: string | undefined;
    for (const e of events) {
      if (e.type === 'task') current = e.task;
      else if (e.type !== 'play') expect(e.task).toBe(current);
    }
    const of = (host: string) =>
      events.filter((e) => e.host === host).map((e) => `${e.type} ${e.task}`);
    expect(of('probe-a')).toEqual([
      'ok Check the K3s agent',
      'changed Write a marker file',
      'skipped Fail on one host',
      'ok Leak the secret by mistake',
      'ok Use the secret quietly',
      'ok Report the reboot marker',
    ]);
    expect(of('probe-b')).toEqual([
      'ok Check the K3s agent',
      'changed Write a marker file',
      'failed Fail on one host',
    ]);
    expect(of('probe-c')).toEqual(['unreachable Check the K3s agent']);

    // Ansible ran the nodes' stand-ins over SSH.
    for (const name of ['probe-a', 'probe-b']) {
      expect(
        lab
          .node(name)
          .calls('systemctl')
          .map((c) => c.argv),
      ).toEqual([['systemctl', 'is-active', 'k3s-agent']]);
    }

    // Extra vars arrive literally (never templated); the secret arrives through its file.
    expect(await readFile(join(markerDir, 'probe-a.txt'), 'utf8')).toBe(
      `hello {{ 7 * 7 }} ${secret}\n`,
    );

    // …but never on a command line, in the events or in the log.
    expect(seen).toBeDefined();
    expect(seen!.leaks).toEqual([]);
    expect(seen!.argv).toContain('--extra-vars');
    expect(seen!.argv.some((a) => /^@.*secret-vars\.yml$/.test(a))).toBe(true);
    expect(seen!.secretFileMode).toBe(0o600);
    expect(seen!.dirMode).toBe(0o700);
    expect(events.find((e) => e.task === 'Leak the secret by mistake' && e.host)?.message).toBe(
      'secret is [redacted]',
    );
    expect(JSON.stringify(events)).not.toContain(secret);
    const log = logLines.join('');
    expect(log).toContain('running ansible-playbook');
    expect(log).toContain('probe_secret'); // its name, as a key that was passed
    expect(log).not.toContain(secret);
    expect(result.durationMs).toBeGreaterThan(0);
    // The run's temp dir (inventory, variable files) is gone, and so are its ssh masters.
    const runDir = join(seen!.argv.find((a) => a.endsWith('secret-vars.yml'))!.slice(1), '..');
    await expect(stat(runDir)).rejects.toThrow();
    expect(await gone((cmd) => cmd.includes(runDir))).toEqual([]);
  }, 180_000);

  test.concurrent('a changed host key Ansible reports as its own "Broken pipe" is explained all the same', async () => {
    // Ansible's race, forced: its ssh loses stdin before Ansible has written the module (the
    // module is larger than a pipe holds, so Ansible's write waits for it), then verifies the
    // host key for real. Ansible reports "Data could not be sent … Broken pipe", not ssh's words.
    const wrapper = join(work, 'ssh-closing-stdin');
    await writeFile(wrapper, '#!/bin/sh\nexec 0<&-\nsleep 2\nexec ssh "$@" </dev/null\n', {
      mode: 0o755,
    });
    const logLines: string[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk, _enc, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    });
    const events: PlaybookEvent[] = [];
    const result = await runPlaybook({
      playbook: join(FIXTURES, 'safe-probe.yml'),
      nodes: lab.inventory(),
      limit: ['key-h'],
      extraVars: {
        ansible_ssh_executable: wrapper,
        marker_dir: work,
        marker_text: 'x',
        fail_host: 'none',
      },
      secretVars: { probe_secret: 'unused-secret' },
      ssh: sshOf(),
      logger,
      onEvent: (e) => events.push(e),
    });
    // What Ansible itself said, as streamed while it ran and kept in the log.
    const ansibleSaid = events.find((e) => e.type === 'unreachable')?.message ?? '';
    expect(ansibleSaid).toMatch(
      /^Data could not be sent to remote host ".*"\. Make sure this host can be reached over ssh: \[Errno 32\] Broken pipe/,
    );
    expect(logLines.join('')).toContain('the bot’s own SSH refuses its host key');

    // What the user is told: the key, not just "unreachable".
    expect(result.exitCode).toBe(4);
    expect(result.stats['key-h']).toMatchObject({ ok: 0, unreachable: 1 });
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatchObject({
      host: 'key-h',
      task: 'Check the K3s agent',
      unreachable: true,
    });
    expectMismatchExplained(result.failures[0]!.message, 'key-h');
    // Neither Ansible's ssh nor the bot's probe logged in, nothing ran.
    await new Promise((r) => setTimeout(r, 2500)); // the wrapper's ssh, after its sleep
    expect(lab.node('key-h').logins()).toBe(0);
    expect(lab.node('key-h').calls()).toEqual([]);
  }, 120_000);

  test.concurrent('provision-pi.yml --check changes nothing and reports what it would do', async () => {
    const dir = await mkdtemp(join(work, 'prov-'));
    const cmdline = join(dir, 'cmdline.txt');
    const original =
      'console=serial0,115200 console=tty1 root=PARTUUID=0a1b2c3d-02 rootfstype=ext4 rootwait\n';
    await writeFile(cmdline, original);
    const installer = await serveInstaller();
    const token = 'K10abcdef0123456789::server:0123456789abcdef';
    const events: PlaybookEvent[] = [];
    const logLines: string[] = [];
    try {
      const result = await runPlaybook({
        playbook: join(PLAYBOOKS, 'provision-pi.yml'),
        nodes: lab.inventory(),
        limit: ['prov-d'],
        check: true,
        // apt needs a real Debian node with python3-apt and root: not these fake nodes.
        skipTags: ['packages'],
        extraVars: {
          ansible_become: 'false', // the lab logs in as root; its sudo stand-in is not Ansible's
          pi_cmdline_file: cmdline,
          k3s_url: 'https://192.168.1.10:6443',
          k3s_install_script_url: installer.url,
          k3s_install_script: join(dir, 'k3s-install.sh'),
          pi_reboot_required_file: join(dir, 'reboot-required'),
        },
        secretVars: { k3s_token: token },
        ssh: sshOf(),
        logger: createLogger({
          level: 'trace',
          destination: new Writable({
            write(chunk, _enc, done) {
              logLines.push(String(chunk));
              done();
            },
          }),
        }),
        onEvent: (e) => events.push(e),
      });
      const byTask = (task: string) =>
        events
          .filter((e) => e.task === task && e.host)
          .map((e) => `${e.type}${e.message ? ` ${e.message}` : ''}`);
      expect(result.failures).toEqual([]);
      expect(result.exitCode).toBe(0);
      expect(byTask('Install base packages')).toEqual([]); // skipped by tag
      expect(byTask('Enable the memory cgroup K3s needs')).toEqual([
        'changed (item=cgroup_memory=1)',
        'changed (item=cgroup_enable=memory)',
      ]);
      expect(byTask('Read active swap')).toEqual(['ok']);
      expect(byTask('Keep swap off after reboots (dphys-swapfile)')).toEqual(['skipped']);
      expect(byTask('Download the K3s installer')).toEqual(['changed']);
      // "Would have run" (its creates: file is missing): changed, but not run.
      expect(byTask('Install the K3s agent and join the cluster')).toEqual(['changed']);
      expect(byTask('Turn swap off now')).toEqual(['skipped']);
      expect(byTask('Report that a reboot is required')).toEqual(['ok REBOOT_REQUIRED=true']);
      expect(result.rebootRequired).toEqual(['prov-d']);
      expect(result.stats['prov-d']).toMatchObject({ failed: 0, unreachable: 0 });
      // Check mode wrote nothing: the file is as it was, the installer only got a HEAD.
      expect(await readFile(cmdline, 'utf8')).toBe(original);
      await expect(stat(join(dir, 'k3s-install.sh'))).rejects.toThrow();
      await expect(stat(join(dir, 'reboot-required'))).rejects.toThrow();
      expect(installer.methods).toEqual(['HEAD']);
      expect(JSON.stringify(events) + logLines.join('')).not.toContain(token);
    } finally {
      await installer.close();
    }
  }, 180_000);

  test.concurrent('provision-pi.yml cgroups for real: appends only the missing parameter, once, and marks a reboot', async () => {
    const dir = await mkdtemp(join(work, 'cg-'));
    const cmdline = join(dir, 'cmdline.txt');
    await writeFile(cmdline, 'console=tty1 cgroup_memory=1 root=PARTUUID=0a1b2c3d-02 rootwait\n');
    const events: PlaybookEvent[] = [];
    const result = await runPlaybook({
      playbook: join(PLAYBOOKS, 'provision-pi.yml'),
      nodes: lab.inventory(),
      limit: ['cg-e'],
      tags: ['cgroups'],
      extraVars: {
        ansible_become: 'false',
        pi_cmdline_file: cmdline,
        pi_reboot_required_file: join(dir, 'reboot-required'),
      },
      ssh: sshOf(),
      logger: silentLogger(),
      onEvent: (e) => events.push(e),
    });
    expect(result.exitCode).toBe(0);
    expect(
      events
        .filter((e) => e.task === 'Enable the memory cgroup K3s needs' && e.host)
        .map((e) => `${e.type} ${e.message}`),
    ).toEqual(['ok (item=cgroup_memory=1)', 'changed (item=cgroup_enable=memory)']);
    expect(await readFile(cmdline, 'utf8')).toBe(
      'console=tty1 cgroup_memory=1 root=PARTUUID=0a1b2c3d-02 rootwait cgroup_enable=memory\n',
    );
    expect(await readFile(join(dir, 'reboot-required'), 'utf8')).toMatch(/restart required/);
    expect(result.rebootRequired).toEqual(['cg-e']);
    // Only the tagged part ran (plus the always-on OS guard).
    expect(events.some((e) => e.task === 'Download the K3s installer')).toBe(false);
  }, 180_000);

  test.concurrent('update.yml (apt skipped) reports REBOOT_REQUIRED per host and never reboots', async () => {
    const events: PlaybookEvent[] = [];
    const result = await runPlaybook({
      playbook: join(PLAYBOOKS, 'update.yml'),
      nodes: lab.inventory(),
      limit: ['upd-f'],
      check: true,
      skipTags: ['apt'],
      extraVars: { ansible_become: 'false' },
      ssh: sshOf(),
      logger: silentLogger(),
      onEvent: (e) => events.push(e),
    });
    expect(result.exitCode).toBe(0);
    const marker = events.find((e) => e.task === 'Report whether a reboot is required' && e.host);
    let expected = false;
    try {
      await stat('/var/run/reboot-required'); // the fake node is this machine
      expected = true;
    } catch {}
    expect(marker?.message).toBe(`REBOOT_REQUIRED=${expected}`);
    expect(result.rebootRequired).toEqual(expected ? ['upd-f'] : []);
    expect(lab.node('upd-f').calls('systemctl')).toEqual([]);
    expect(lab.node('upd-f').reboots()).toBe(0);
  }, 180_000);

  test.concurrent("a broken playbook is a result with Ansible's own error, not an exception", async () => {
    const broken = join(work, 'broken.yml');
    await writeFile(broken, '- hosts: all\n  tasks:\n    - ansible.builtin.no_such_module: {}\n');
    const result = await runPlaybook({
      playbook: broken,
      nodes: lab.inventory(),
      limit: ['upd-f'],
      ssh: sshOf(),
      logger: silentLogger(),
    });
    expect(result.exitCode).toBe(4);
    expect(result.error).toMatch(
      /^ERROR! couldn't resolve module\/action 'ansible.builtin.no_such_module'/,
    );
    expect(result.stats).toEqual({});
  }, 60_000);

  test('a timeout or an abort stops ansible-playbook and everything it started', async () => {
    // The probe's first task hangs on this node.
    lab.node('slow-g').setScript('systemctl', 'sleep 30');
    const base = {
      playbook: join(FIXTURES, 'safe-probe.yml'),
      nodes: lab.inventory(),
      limit: ['slow-g'],
      extraVars: { marker_dir: work, marker_text: 'x', fail_host: 'none' },
      secretVars: { probe_secret: 'unused-secret' },
      ssh: sshOf(),
      logger: silentLogger(),
    };
    const controller = new AbortController();
    const started = Date.now();
    const [timedOut, aborted] = await Promise.allSettled([
      runPlaybook({ ...base, timeoutMs: 4_000 }),
      runPlaybook({
        ...base,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'task')
            setTimeout(() => controller.abort(new Error('stopped by the test')), 500);
        },
      }),
    ]);
    expect(timedOut.status === 'rejected' && timedOut.reason).toBeInstanceOf(UserError);
    expect(timedOut.status === 'rejected' && timedOut.reason.message).toMatch(
      /did not finish within 4 s; stopped it/,
    );
    expect(aborted.status === 'rejected' && aborted.reason.message).toBe('stopped by the test');
    expect(Date.now() - started).toBeLessThan(25_000); // not the 30 s the stand-in sleeps
    expect(await gone((cmd) => cmd.includes('ansible-playbook') && cmd.includes('slow-g'))).toEqual(
      [],
    );
  }, 60_000);
});

/** The matching processes still there after up to 2 s (an exiting process may linger briefly). */
/** Waits (up to 10 s: ssh masters exit slowly on a loaded machine) until none match. */
async function gone(match: (cmd: string) => boolean): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    if (processesMatching(match).length === 0) return [];
    await new Promise((r) => setTimeout(r, 100));
  }
  return processesMatching(match);
}

/** Command lines (joined with spaces) of the processes for which `match` is true. */
function processesMatching(match: (cmd: string) => boolean): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (match(cmd)) out.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Every process's argv (as far as /proc lets us read), checked for the secret, while it runs. */
function inspectProcesses(secret: string) {
  const leaks: string[] = [];
  let argv: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmd: string[];
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (cmd.join(' ').includes(secret)) leaks.push(`${pid}: ${cmd.join(' ')}`);
    if (
      cmd.some((a) => a.endsWith('ansible-playbook')) &&
      cmd.some((a) => a.endsWith('safe-probe.yml'))
    ) {
      argv = cmd;
    }
  }
  const file = argv.find((a) => a.endsWith('secret-vars.yml'))?.slice(1) ?? '';
  const mode = (p: string) => {
    try {
      return statSync(p).mode & 0o777;
    } catch {
      return -1;
    }
  };
  return { argv, leaks, secretFileMode: mode(file), dirMode: mode(join(file, '..')) };
}

/** A stand-in for get.k3s.io that records the methods it was asked with. */
async function serveInstaller(): Promise<{
  url: string;
  methods: string[];
  close: () => Promise<void>;
}> {
  const methods: string[] = [];
  const server: Server = createServer((req, res) => {
    methods.push(req.method ?? '');
    res.writeHead(200, { 'content-type': 'text/x-shellscript', 'content-length': '28' });
    res.end(req.method === 'HEAD' ? undefined : '#!/bin/sh\necho fake k3s $@\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/install.sh`,
    methods,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
