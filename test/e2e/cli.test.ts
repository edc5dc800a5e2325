import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, runDemo, tempStateDir } from '../helpers/cli.js';

function audit(stateDir: string): Record<string, unknown>[] {
  return readFileSync(path.join(stateDir, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('the console bot (real CLI, piped input)', () => {
  it('answers /help, lists nodes, shows dry-run plans, exits 0 at end of input', async () => {
    const { state, ...r } = await runDemo('/help\n!node list\n/node reboot pi4-a\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('/node — Operate the lab');
    expect(r.stdout).toMatch(/pi4-a\s+192\.168\.1\.21\s+raspios\s+worker\s+pi4-a/);
    expect(r.stdout).toContain('ℹ Dry run: /node reboot pi4-a');
    expect(r.stdout).toContain('5. ssh -p 22 pi@192.168.1.21 -- sudo -n systemctl reboot');
    expect(r.stdout).toContain(
      '8. PATCH /api/v1/nodes/pi4-a {"spec":{"unschedulable":false}} (uncordon)',
    );
    expect(r.stderr).toBe('');
    const lines = audit(state);
    expect(lines.map((l) => [l.command, l.decision, l.result])).toEqual([
      ['help', 'allowed', 'ok'],
      ['node list', 'allowed', 'ok'],
      ['node reboot', 'allowed', 'dry-run'],
    ]);
    expect(lines[2]).toMatchObject({
      platform: 'console',
      args: { node: 'pi4-a' },
      dryRun: true,
      roles: ['admin'],
    });
    expect(typeof lines[2]!.durationMs).toBe('number');
  });

  it('in the demo every /node action shows its dry-run plan; read-only ones say what to configure', async () => {
    const { state, ...r } = await runDemo(
      [
        '/node drain pi4-a',
        '/node cordon pi4-a',
        '/node uncordon pi4-a',
        '/node provision pi4-a',
        '/node provision x86 check:true',
        '/node update pis',
        '/node status',
        '/node logs pi4-a k3s-agent',
        '/node provision pi4-b dry_run:false',
      ].join('\n'),
    );
    expect(r.code).toBe(0);
    for (const c of [
      'node drain pi4-a',
      'node cordon pi4-a',
      'node uncordon pi4-a',
      'node provision pi4-a',
      'node provision x86 check:true',
      'node update target:pis',
    ]) {
      expect(r.stdout).toContain(`ℹ Dry run: /${c}`);
    }
    expect(r.stdout).toMatch(
      /1\. ansible-playbook -i <inventory generated from the bot's, StrictHostKeyChecking=yes> playbooks\/provision-pi\.yml --limit pi4-a --extra-vars/,
    );
    expect(r.stdout).toContain(
      '1. ssh -p 22 admin@192.168.1.10 -- sudo -n nixos-rebuild dry-activate --flake /etc/nixos#x86',
    );
    expect(r.stdout).toContain('1. ansible-playbook playbooks/update.yml --limit pi5');
    expect(r.stdout).toContain('give up after 5 min');
    // Read-only commands have no plan: the demo says what they would ask, not "add dry_run:true".
    expect(r.stdout).toContain(
      "ℹ Demo: there is no lab to ask. This would run ssh -p 22 admin@192.168.1.10 -- sh -c 'cat /proc/uptime",
    );
    expect(r.stdout).toContain(
      'ℹ Demo: there is no lab to ask. This would run ssh -p 22 pi@192.168.1.21 -- sudo -n journalctl -u k3s-agent',
    );
    expect(r.stdout).not.toContain('or add dry_run:true to see the plan');
    // Provisioning a Pi for real needs the K3s join settings: refused before any confirmation.
    expect(r.stdout).toContain(
      '✖ Not provisioning pi4-b: provision-pi.yml joins it to K3s and nodeOps.k3s.url and nodeOps.k3s.token are not set.',
    );
    expect(r.stdout).not.toContain('⚠ Confirm: /node provision pi4-b');
    expect(r.stderr).toBe('');
  });

  it('explains bad input without a stack trace and keeps going', async () => {
    const { state, ...r } = await runDemo(
      [
        '/nod list',
        '/node reboot pi9',
        '/task add title:"Replace SD card',
        '/node list extra',
        '/node reboot pi4-a dry_run:maybe',
        '/help',
      ].join('\n'),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✖ Unknown command "nod". Did you mean "node"?');
    expect(r.stdout).toContain('✖ pi9 is not in the inventory. Did you mean pi5?');
    expect(r.stdout).toContain('Known nodes: x86, pi5, pi4-a, pi4-b, pi1, pi2, pi3');
    expect(r.stdout).toContain('✖ Unclosed quote " at column 16.');
    expect(r.stdout).toContain('✖ Too many values for /node list: "extra".');
    expect(r.stdout).toContain('✖ Option dry_run: expected true or false, got "maybe".');
    expect(r.stdout).toContain('Commands'); // the /help after the errors still ran
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
    expect(audit(state).map((l) => l.result)).toEqual([
      'user-error',
      'user-error',
      'user-error',
      'user-error',
      'user-error',
      'ok',
    ]);
  });

  it('asks for confirmation and takes the next line as the answer', async () => {
    const { state, ...r } = await runDemo(
      '/node drain pi4-b dry_run:false\nn\n/node drain pi4-b dry_run:false\n/help\n/node drain pi4-b dry_run:false\n',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('⚠ Confirm: /node drain pi4-b dry_run:false');
    expect(r.stdout).toMatch(
      /Type y to confirm or n to cancel \(or \/confirm [A-Z2-9]{6}\); expires in 60 s\./,
    );
    // n cancels; another command cancels; end of input cancels.
    expect(r.stdout.match(/Cancelled: \/node drain pi4-b dry_run:false/g)).toHaveLength(3);
    expect(audit(state).map((l) => [l.command, l.decision])).toEqual([
      ['node drain', 'cancelled'],
      ['node drain', 'cancelled'],
      ['help', 'allowed'],
      ['node drain', 'cancelled'],
    ]);
  });

  it('runs a confirmed command once y is typed', async () => {
    const { state, ...r } = await runDemo('/node reboot pi4-a dry_run:false\ny\n');
    expect(r.code).toBe(0);
    // Node actions are not connected in the demo: it says so instead of pretending.
    expect(r.stdout).toContain(
      '✖ Rebooting pi4-a cannot run: this bot has no SSH access to the nodes configured.',
    );
    expect(audit(state)[0]).toMatchObject({
      command: 'node reboot',
      decision: 'confirmed',
      result: 'user-error',
    });
  });

  it('denies side effects to a console user without a role', async () => {
    const state = tempStateDir();
    const config = path.join(state, 'config.yaml');
    writeFileSync(
      config,
      'chat: { console: { user: guest } }\ninventory:\n  nodes: [{ name: pi4-a, host: 127.0.0.1, os: raspios, k3sName: pi4-a }]\naccess:\n  roles:\n    admin: { members: ["console:root"], allow: ["*"] }\n',
    );
    const r = await runCli('/node cordon pi4-a\n/node list\n', {
      args: ['--config', config],
      env: { CHATOPS_STATE_DIR: state },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✖ Not allowed: /node cordon pi4-a');
    expect(r.stdout).toContain('You (console:guest) have no role. Roles that allow it: admin.');
    expect(r.stdout).toContain('1 nodes');
    expect(audit(state).map((l) => l.decision)).toEqual(['denied', 'allowed']);
  });

  it('stops on a config with a wrong type or a missing file: exit 2, no stack trace', async () => {
    const state = tempStateDir();
    const config = path.join(state, 'bad.yaml');
    writeFileSync(config, 'confirm:\n  timeoutSeconds: soon\n');
    const bad = await runCli('', { args: ['--config', config] });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('line 2: confirm.timeoutSeconds: expected number, got "soon"');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const missing = await runCli('', { env: { CHATOPS_CONFIG: path.join(state, 'missing.yaml') } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('the file does not exist');
  });

  it('refuses to start when the HTTP port is taken, saying how to fix it', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const r = await runCli('/help\n', {
      env: { CHATOPS_STATE_DIR: tempStateDir(), CHATOPS_HTTP_PORT: String(port) },
    });
    blocker.close();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `Cannot start: The HTTP server cannot listen on 127.0.0.1:${port} (EADDRINUSE).`,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints the effective config with secrets redacted', async () => {
    const state = tempStateDir();
    const config = path.join(state, 'c.yaml');
    writeFileSync(config, 'chat:\n  discord: { applicationId: "1", guildIds: ["2"] }\n');
    const r = await runCli('', {
      args: ['--config', config, '--print-config'],
      env: { CHATOPS_DISCORD_TOKEN: 'MTIz.super.secret', CHATOPS_STATE_DIR: '/srv/chatops' },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('token: "[redacted]"');
    expect(r.stdout).toContain('dir: /srv/chatops');
    expect(r.stdout).not.toContain('super.secret');
  });

  it('serves /healthz, /readyz and /metrics, and stops cleanly on SIGTERM', async () => {
    const state = tempStateDir();
    const child = spawn(process.execPath, [CLI], {
      env: {
        PATH: process.env.PATH,
        CHATOPS_STATE_DIR: state,
        CHATOPS_HTTP_PORT: '0',
        CHATOPS_LOG_LEVEL: 'info',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    const port = await new Promise<number>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        const m = /"port":(\d+)/.exec(stderr);
        if (m) resolve(Number(m[1]));
      });
    });
    child.stdin.write('/node list\n');
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text()).toBe('ok\n');
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain(
      'chatops_invocations_total{command="node list",decision="allowed",result="ok"} 1',
    );
    expect(metrics).toContain('chatops_invocation_duration_seconds_count{command="node list"} 1');
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
