/**
 * SshPool against real sshd processes (test/helpers/ssh-lab.ts): quoting, exit codes, streaming,
 * timeouts, connection reuse and reconnects, per-node serialization, host key pinning, reboot.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger, type Logger } from '../../src/core/logger.js';
import {
  HostKeyMismatchError,
  SshAuthError,
  SshPool,
  type SshPoolOptions,
  SshTimeoutError,
  SshUnreachableError,
  shellQuote,
  UnknownHostError,
} from '../../src/infra/ssh.js';
import { keysFor, parseKnownHosts } from '../../src/infra/ssh-known-hosts.js';
import { type SshLab, startSshLab } from '../helpers/ssh-lab.js';

const asRoot = process.getuid?.() === 0;
let lab: SshLab;
let pool: SshPool;
let logText = '';
const pools: SshPool[] = [];

function memoryLogger(): Logger {
  return createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk, _enc, cb) {
        logText += chunk.toString();
        cb();
      },
    }),
  });
}

function newPool(overrides: Partial<SshPoolOptions> = {}): SshPool {
  const p = new SshPool({
    privateKeyFile: lab.privateKeyFile,
    knownHostsFile: lab.knownHostsFile,
    connectTimeoutMs: 3000,
    commandTimeoutMs: 10_000,
    stopGraceMs: 300,
    logger: memoryLogger(),
    ...overrides,
  });
  pools.push(p);
  return p;
}

beforeAll(async () => {
  lab = await startSshLab({
    nodes: [
      { name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a' },
      { name: 'x86', os: 'nixos', roles: ['control-plane'] },
      { name: 'pi4-b', os: 'raspios', hostKeyTypes: ['ed25519', 'ecdsa', 'rsa'] },
      { name: 'pi3', os: 'raspios', roles: ['support'] },
    ],
    rebootDelayMs: 800,
  });
  pool = newPool();
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await lab?.stop();
});

describe('the lab', () => {
  it('runs one sshd per node on its own loopback address, with the stand-ins first on PATH', async () => {
    const hosts = lab.nodes.map((n) => n.host);
    expect(hosts).toEqual(['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14']);
    expect(lab.inventory()[0]).toMatchObject({
      name: 'pi4-a',
      host: '127.0.0.11',
      os: 'raspios',
      roles: ['worker'],
      k3sName: 'pi4-a',
    });
    const a = lab.node('pi4-a');
    const r = await pool.exec(a.target, [
      'sh',
      '-c',
      'echo "$PATH"; echo "$LAB_NODE"; command -v systemctl; echo "$SSH_CONNECTION"',
    ]);
    const [pathLine, nodeName, systemctl, conn] = r.stdout.split('\n');
    expect(pathLine).toBe(`${path.join(a.dir, 'bin')}:/usr/local/bin:/usr/bin:/bin`);
    expect(nodeName).toBe('pi4-a');
    expect(systemctl).toBe(path.join(a.dir, 'bin', 'systemctl'));
    expect(conn?.split(' ').slice(2)).toEqual(['127.0.0.11', String(a.port)]);

    const temp = await pool.exec(a.target, ['vcgencmd', 'measure_temp']);
    expect(temp).toEqual({ code: 0, stdout: "temp=48.3'C\n", stderr: '' });
    // x86 runs NixOS: no vcgencmd there, but nixos-rebuild
    const x86 = lab.node('x86').target;
    expect((await pool.exec(x86, ['vcgencmd', 'measure_temp'])).code).toBe(127);
    const lines: string[] = [];
    const rebuild = await pool.exec(x86, ['nixos-rebuild', 'switch', '--flake', '/etc/nixos#x86'], {
      sudo: true,
      onLine: (l) => lines.push(l),
    });
    expect(rebuild.code).toBe(0);
    expect(lines).toContain('activating the configuration...');
    const journal = await pool.exec(a.target, ['journalctl', '-u', 'k3s', '-n', '3', '--no-pager']);
    expect(journal.stdout.trim().split('\n')).toHaveLength(3);
    expect(journal.stdout).toMatch(/pi4-a k3s\[1234\]: canned log line 1 of k3s/);
    // the real commands are there too
    const real = await pool.exec(a.target, ['cat', '/proc/loadavg']);
    expect(real.stdout).toMatch(/^\d+\.\d+ \d+\.\d+ \d+\.\d+ /);
  });
});

describe('exec', () => {
  it('passes every argv element verbatim, whatever it contains', async () => {
    const a = lab.node('pi4-a');
    a.setScript('record-args', 'exit 0');
    const args = [
      'with spaces',
      `it's "quoted"`,
      '$(rm -rf /)',
      'a;b',
      '`id`',
      '',
      '*',
      '~',
      'x=1',
      'two\nlines',
      'ünïcödé',
      '\\',
      '&& | > <',
      '--flag=$HOME',
      "'",
    ];
    const r = await pool.exec(a.target, ['record-args', ...args]);
    expect(r.code).toBe(0);
    expect(a.calls('record-args').at(-1)?.argv).toEqual(['record-args', ...args]);
    expect(shellQuote(['ls', '-la', '/tmp/x y', "it's"])).toBe(`ls -la '/tmp/x y' 'it'\\''s'`);
    expect(shellQuote(['a=b', '~', ''])).toBe(`'a=b' '~' ''`);
  });

  it('returns exit codes and output, and streams lines as they come', async () => {
    const a = lab.node('pi4-a');
    a.setScript(
      'noisy',
      'echo out1; echo err1 >&2; sleep 0.3; echo out2; printf "partial"; exit "$1"',
    );
    const seen: { line: string; stream: string; at: number }[] = [];
    const started = Date.now();
    const r = await pool.exec(a.target, ['noisy', '3'], {
      onLine: (line, stream) => seen.push({ line, stream, at: Date.now() }),
    });
    const ended = Date.now();
    expect(r).toEqual({ code: 3, stdout: 'out1\nout2\npartial', stderr: 'err1\n' });
    expect(seen.map(({ line, stream }) => [stream, line])).toEqual(
      expect.arrayContaining([
        ['stdout', 'out1'],
        ['stderr', 'err1'],
        ['stdout', 'out2'],
        ['stdout', 'partial'],
      ]),
    );
    expect(seen.filter((s) => s.stream === 'stdout').map((s) => s.line)).toEqual([
      'out1',
      'out2',
      'partial',
    ]);
    // out1 arrived while the command was still sleeping
    const first = seen.find((s) => s.line === 'out1')!;
    expect(ended - first.at).toBeGreaterThanOrEqual(200);
    expect(first.at - started).toBeLessThan(ended - started);
    expect((await pool.exec(a.target, ['false'])).code).toBe(1);
    // `exec`: the killed process is the session's own whatever the lab user's login shell runs
    // the command with (bash runs a lone command in its place, dash as /bin/sh forks it).
    const killed = await pool.exec(a.target, ['exec', 'sh', '-c', 'kill -TERM $$']);
    expect(killed.signal).toBe('SIGTERM');
  });

  it('prefixes sudo -n when asked, and the stand-ins see it', async () => {
    const a = lab.node('pi4-a');
    a.clearCalls();
    await pool.exec(a.target, ['systemctl', 'restart', 'k3s'], { sudo: true });
    await pool.exec(a.target, ['systemctl', 'is-active', 'k3s']);
    expect(a.calls().map((c) => [c.argv.join(' '), c.sudo])).toEqual([
      ['sudo -n systemctl restart k3s', false],
      ['systemctl restart k3s', true],
      ['systemctl is-active k3s', false],
    ]);
    a.setUnitState('k3s', 'failed');
    const r = await pool.exec(a.target, ['systemctl', 'is-active', 'k3s']);
    expect(r).toMatchObject({ code: 3, stdout: 'failed\n' });
  });

  it('stops a command at its timeout and says which node and command', async () => {
    const a = lab.node('pi4-a');
    a.setScript('hang', 'sleep 30 & wait');
    const logStart = a.sshdLog().length;
    const started = Date.now();
    const err = await pool.exec(a.target, ['hang', 'forever'], { timeoutMs: 400 }).catch((e) => e);
    expect(err).toBeInstanceOf(SshTimeoutError);
    expect(Date.now() - started).toBeLessThan(3000); // 400 ms + TERM/KILL grace (300 + 150)
    const pid = a.calls('hang').at(-1)!.pid;
    const where = `pi4-a (127.0.0.11:${a.port})`;
    if (asRoot) {
      // sshd refuses signal requests in root sessions: the channel is closed, the process lives
      expect(err.stopped).toBe(false);
      expect(err.message).toBe(
        `\`hang forever\` on ${where} timed out after 400 ms; its SSH channel was closed, but it may still be running there.`,
      );
      await vi.waitFor(() =>
        expect(
          a
            .sshdLog()
            .slice(logStart)
            .match(/session signalling requires privilege separation/g),
        ).toHaveLength(2),
      ); // TERM and KILL were asked for
      process.kill(-pid, 'SIGKILL');
    } else {
      // sshd delivers them to the command's process group (the stand-in and its child)
      expect(err.stopped).toBe(true);
      expect(err.message).toBe(
        `\`hang forever\` on ${where} timed out after 400 ms; it was stopped.`,
      );
    }
    await vi.waitFor(() => expect(existsSync(`/proc/${pid}`)).toBe(false), { timeout: 2000 });
    // the node's queue and connection are still usable
    expect((await pool.exec(a.target, ['true'])).code).toBe(0);
  });

  it('stops a command when its signal aborts', async () => {
    const a = lab.node('pi4-a');
    a.setScript('hang', 'sleep 30');
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const started = Date.now();
    const err = await pool.exec(a.target, ['hang'], { signal: ac.signal }).catch((e) => e);
    expect(err.name).toBe('AbortError');
    expect(Date.now() - started).toBeLessThan(3000);
    const pid = a.calls('hang').at(-1)!.pid;
    if (asRoot) process.kill(-pid, 'SIGKILL');
    await vi.waitFor(() => expect(existsSync(`/proc/${pid}`)).toBe(false), { timeout: 2000 });
    // aborted while waiting in the node's queue: never runs
    a.setScript('work', 'sleep 0.3');
    a.clearCalls();
    const queued = new AbortController();
    const first = pool.exec(a.target, ['work', '1']);
    const second = pool.exec(a.target, ['work', '2'], { signal: queued.signal });
    queued.abort();
    await expect(second).rejects.toMatchObject({ name: 'AbortError' });
    await first;
    expect(a.calls('work').map((c) => c.argv[1])).toEqual(['1']);
  });

  it('reuses one connection per node for many commands', async () => {
    const p = newPool();
    const x86 = lab.node('x86');
    const before = x86.logins();
    const t0 = Date.now();
    await p.exec(x86.target, ['true']);
    const firstMs = Date.now() - t0;
    const t1 = Date.now();
    for (let i = 0; i < 5; i++) expect((await p.exec(x86.target, ['true'])).code).toBe(0);
    const laterMs = (Date.now() - t1) / 5;
    await sleep(100);
    expect(x86.logins()).toBe(before + 1);
    expect(laterMs).toBeLessThan(firstMs);
  });

  it('runs one command at a time per node, but nodes in parallel', async () => {
    for (const n of ['pi4-a', 'x86']) lab.node(n).setScript('work', 'sleep 0.3');
    const a = lab.node('pi4-a');
    const x86 = lab.node('x86');
    await Promise.all([pool.exec(a.target, ['true']), pool.exec(x86.target, ['true'])]); // warm
    const since = Date.now();
    await Promise.all([
      pool.exec(a.target, ['work', '1']),
      pool.exec(a.target, ['work', '2']),
      pool.exec(x86.target, ['work', '3']),
    ]);
    const onA = a.calls('work').filter((c) => c.at >= since);
    const onX = x86.calls('work').filter((c) => c.at >= since);
    expect(onA.map((c) => c.argv[1])).toEqual(['1', '2']); // FIFO
    expect(onA[1]!.at - onA[0]!.at).toBeGreaterThanOrEqual(300);
    expect(onX[0]!.at).toBeLessThan(onA[1]!.at); // x86 ran while pi4-a was busy
  });

  it('opens a new connection when the old one dropped', async () => {
    const x86 = lab.node('x86');
    await pool.exec(x86.target, ['true']);
    const before = x86.logins();
    await x86.stop();
    await x86.start();
    expect((await pool.exec(x86.target, ['echo', 'back'])).stdout).toBe('back\n');
    await vi.waitFor(() => expect(x86.logins()).toBe(before + 1));
  });

  it('notices a frozen node by keepalive and reconnects once it answers again', async () => {
    const p = newPool({ keepaliveIntervalMs: 100 });
    const n = lab.node('pi3');
    await p.exec(n.target, ['true']);
    const before = n.logins();
    const logStart = logText.length;
    n.freeze();
    await sleep(700); // > 3 unanswered keepalives 100 ms apart
    n.thaw();
    expect(logText.slice(logStart)).toMatch(/Keepalive timeout/);
    expect((await p.exec(n.target, ['echo', 'ok'])).stdout).toBe('ok\n');
    await vi.waitFor(() => expect(n.logins()).toBe(before + 1));
  });
});

describe('host keys', () => {
  it('checks every key type and hashed known_hosts entries', async () => {
    const hashed = path.join(lab.dir, 'known_hosts.hashed');
    copyFileSync(lab.knownHostsFile, hashed);
    execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
    expect(readFileSync(hashed, 'utf8')).toMatch(/^\|1\|/);
    expect(readFileSync(hashed, 'utf8')).not.toContain('127.0.0.');
    const p = newPool({ knownHostsFile: hashed });
    for (const n of ['pi4-a', 'x86']) {
      expect((await p.exec(lab.node(n).target, ['true'])).code).toBe(0);
    }

    // pi4-b has ed25519, ecdsa and rsa host keys: pinning any one of them is enough, because
    // only the pinned types are offered as host key algorithms
    const b = lab.node('pi4-b');
    for (const type of ['ssh-rsa', 'ecdsa-sha2-nistp256', 'ssh-ed25519']) {
      const file = path.join(lab.dir, `known_hosts.${type}`);
      writeFileSync(file, `${b.knownHostsLines().find((l) => l.includes(` ${type} `))}\n`);
      const single = newPool({ knownHostsFile: file });
      expect((await single.exec(b.target, ['echo', type])).stdout).toBe(`${type}\n`);
    }
  });

  it('refuses a changed host key loudly, before anything runs', async () => {
    const n = lab.node('pi3');
    const old = n.hostKeys()[0]!.fingerprint;
    await n.rotateHostKey();
    const now = n.hostKeys()[0]!.fingerprint;
    expect(now).not.toBe(old);
    n.clearCalls();
    const logins = n.logins();
    const p = newPool();
    const err = await p.exec(n.target, ['systemctl', 'reboot']).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err.message).toBe(
      `HOST KEY MISMATCH for pi3 (127.0.0.14:${n.port}): expected ${old}, got ${now} — refusing to connect. If the node was reinstalled, update the known_hosts file (${lab.knownHostsFile}); otherwise someone may be intercepting.`,
    );
    expect(err.hint).toContain(`ssh-keyscan -p ${n.port} 127.0.0.14 >> ${lab.knownHostsFile}`);
    await expect(p.reachable(n.target)).rejects.toBeInstanceOf(HostKeyMismatchError);
    await expect(p.waitForUp(n.target, { timeoutMs: 2000 })).rejects.toBeInstanceOf(
      HostKeyMismatchError,
    );
    await sleep(100);
    expect(n.calls()).toEqual([]);
    expect(n.logins()).toBe(logins);

    // re-pinned (the file is read again when it changes): accepted
    lab.pinHostKeys();
    expect((await p.exec(n.target, ['echo', 'hi'])).stdout).toBe('hi\n');
  });

  it('refuses a key marked @revoked', async () => {
    const n = lab.node('pi4-a');
    const file = path.join(lab.dir, 'known_hosts.revoked');
    const line = n.knownHostsLines()[0]!;
    writeFileSync(file, `${line}\n@revoked ${line}\n`);
    const err = await newPool({ knownHostsFile: file })
      .exec(n.target, ['true'])
      .catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    expect(err.message).toMatch(/^HOST KEY REVOKED for pi4-a/);
  });

  it('refuses a host with no pinned key, and says how to pin it', async () => {
    const a = lab.node('pi4-a');
    const unpinned = { ...a.target, port: a.port + 1 };
    const err = await pool.exec(unpinned, ['true']).catch((e) => e);
    expect(err).toBeInstanceOf(UnknownHostError);
    expect(err.message).toBe(
      `pi4-a (127.0.0.11:${a.port + 1}) has no pinned host key in ${lab.knownHostsFile} — refusing to connect to an unverified host.`,
    );
    expect(err.hint).toContain(`ssh-keyscan -p ${a.port + 1} 127.0.0.11 >> ${lab.knownHostsFile}`);
    // a plain `host` entry pins port 22 only, like OpenSSH
    const plain = path.join(lab.dir, 'known_hosts.plain');
    writeFileSync(
      plain,
      `${a.knownHostsLines()[0]!.replace(`[127.0.0.11]:${a.port}`, '127.0.0.11')}\n`,
    );
    await expect(
      newPool({ knownHostsFile: plain }).exec(a.target, ['true']),
    ).rejects.toBeInstanceOf(UnknownHostError);
  });

  it('matches known_hosts patterns like OpenSSH', () => {
    const kh = parseKnownHosts(
      [
        '# comment',
        'pi4-a,10.0.0.21 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMkzBnbnR0OXsAFJGpZ4Xg0ZmcRc7uvPYeHgQSCiTwkJ',
        '[10.0.0.30]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMkzBnbnR0OXsAFJGpZ4Xg0ZmcRc7uvPYeHgQSCiTwkJ',
        '10.0.1.*,!10.0.1.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMkzBnbnR0OXsAFJGpZ4Xg0ZmcRc7uvPYeHgQSCiTwkJ',
        'bad-line ssh-ed25519 AAAAB3NzaC1yc2E=',
        '@cert-authority *.lan ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMkzBnbnR0OXsAFJGpZ4Xg0ZmcRc7uvPYeHgQSCiTwkJ',
      ].join('\n'),
    );
    expect(kh.skipped).toEqual([{ line: 5, reason: 'the key is not a valid ssh-ed25519 key' }]);
    const count = (host: string, port: number) => keysFor(kh, host, port).pinned.length;
    expect(count('pi4-a', 22)).toBe(1);
    expect(count('PI4-A', 22)).toBe(1);
    expect(count('10.0.0.21', 22)).toBe(1);
    expect(count('10.0.0.21', 2222)).toBe(0);
    expect(count('10.0.0.30', 2222)).toBe(1);
    expect(count('10.0.0.30', 22)).toBe(0);
    expect(count('10.0.1.7', 22)).toBe(1);
    expect(count('10.0.1.5', 22)).toBe(0);
    expect(count('x.lan', 22)).toBe(0);
  });
});

describe('reboot and reachability', () => {
  it('reboots a node: execDetached, waitForDown, waitForUp, and commands work again', async () => {
    const n = lab.node('pi4-a');
    await pool.exec(n.target, ['true']); // a pooled connection that the reboot will kill
    n.clearCalls();
    const t0 = Date.now();
    await pool.execDetached(n.target, ['systemctl', 'reboot'], { sudo: true });
    expect(Date.now() - t0).toBeLessThan(2500);
    await pool.waitForDown(n.target, { timeoutMs: 5000, intervalMs: 100 });
    const down = Date.now();
    await vi.waitFor(() => expect(n.isUp()).toBe(false));
    await pool.waitForUp(n.target, { timeoutMs: 5000, intervalMs: 100 });
    const up = Date.now();
    expect(up - down).toBeGreaterThanOrEqual(600); // rebootDelayMs 800, minus polling slack
    expect(n.reboots()).toBe(1);
    expect(n.calls('systemctl').map((c) => [c.argv.join(' '), c.sudo])).toEqual([
      ['systemctl reboot', true],
    ]);
    expect((await pool.exec(n.target, ['uptime'])).code).toBe(0);
  });

  it('execDetached reports a command that fails at once', async () => {
    const n = lab.node('pi4-a');
    n.setScript('fail-fast', 'echo "not allowed" >&2; exit 1');
    await expect(pool.execDetached(n.target, ['fail-fast'])).rejects.toThrow(
      /`fail-fast` on pi4-a \(127\.0\.0\.11:\d+\) failed \(exit 1\): not allowed/,
    );
  });

  it('says quickly and clearly that a stopped node is not reachable', async () => {
    const n = lab.node('x86');
    await n.stop();
    try {
      const t0 = Date.now();
      const err = await pool.exec(n.target, ['true']).catch((e) => e);
      expect(err).toBeInstanceOf(SshUnreachableError);
      expect(err.message).toBe(`x86 (127.0.0.12:${n.port}) is not reachable: ECONNREFUSED`);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(await pool.reachable(n.target)).toBe(false);
      await expect(pool.waitForUp(n.target, { timeoutMs: 300, intervalMs: 100 })).rejects.toThrow(
        `x86 (127.0.0.12:${n.port}) did not come back within 300 ms (last attempt: ECONNREFUSED).`,
      );
      await pool.waitForDown(n.target, { timeoutMs: 300 });
    } finally {
      await n.start();
    }
    expect(await pool.reachable(n.target)).toBe(true);
  });

  it('a node that misses one probe (busy, not down) is not taken for down; two silent probes in a row are', async () => {
    const n = lab.node('pi3');
    // In front of pi3's sshd, on another port: the first connection gets no SSH banner (a probe
    // that times out, as on a busy node), every other one is passed through.
    let conns = 0;
    let swallowAll = false;
    const swallowed: Socket[] = [];
    const proxy = createServer((c) => {
      if (conns++ === 0 || swallowAll) {
        swallowed.push(c);
        return;
      }
      const up = connect(n.port, n.target.host);
      c.pipe(up).pipe(c);
      up.on('error', () => c.destroy());
      c.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, n.target.host, r));
    try {
      const port = (proxy.address() as AddressInfo).port;
      const knownHosts = path.join(lab.dir, 'known_hosts_via_proxy');
      const pin = `[${n.target.host}]:${n.port} `;
      writeFileSync(
        knownHosts,
        `${n
          .knownHostsLines()
          .filter((l) => l.startsWith(pin))
          .map((l) => l.replace(pin, `[${n.target.host}]:${port} `))
          .join('\n')}\n`,
      );
      const p = newPool({ knownHostsFile: knownHosts, connectTimeoutMs: 1500 });
      const target = { ...n.target, port };
      await expect(p.waitForDown(target, { timeoutMs: 5000, intervalMs: 100 })).rejects.toThrow(
        `pi3 (${n.target.host}:${port}) still answers SSH after 5 s: it did not go down.`,
      );
      expect(conns).toBeGreaterThan(2);
      // Nothing answers at all: down, after two probes in a row that time out.
      swallowAll = true;
      const t0 = Date.now();
      await p.waitForDown(target, { timeoutMs: 8000, intervalMs: 100 });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2 * 1500);
    } finally {
      for (const c of swallowed) c.destroy();
      proxy.close();
    }
  }, 20_000);

  it('tells a refused login apart from an unreachable node', async () => {
    const key = path.join(lab.dir, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const p = newPool({ privateKeyFile: key });
    const n = lab.node('x86');
    const err = await p.exec(n.target, ['true']).catch((e) => e);
    expect(err).toBeInstanceOf(SshAuthError);
    expect(err.message).toMatch(/^x86 \(127\.0\.0\.12:\d+\) refused the SSH login as /);
    expect(await p.reachable(n.target)).toBe(true); // it answered with the pinned key
  });

  it('never logs key material', () => {
    const privateKey = readFileSync(lab.privateKeyFile, 'utf8');
    const body = privateKey.split('\n')[1]!;
    expect(logText.length).toBeGreaterThan(0);
    expect(logText).not.toContain(body);
    expect(logText).not.toContain('PRIVATE KEY');
  });
});
