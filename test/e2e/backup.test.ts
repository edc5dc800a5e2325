import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import type { Config } from '../../src/config/schema.js';
import { labOverrides, runCommand, startApp, testConfig } from '../helpers/app-fixture.js';
import type { RecordingResponder } from '../helpers/dispatcher.js';
import { type SshLab, startSshLab } from '../helpers/ssh-lab.js';

let lab: SshLab;
let app: App;
let config: Config;
let locker: ChildProcess | undefined;

/** One env file for all nodes: the repository and password file depend on $LAB_NODE (set by sshd). */
const repoOf = (node: string) => path.join(lab.dir, 'repos', node);
const resticEnv = (node: string, password = 'pw-good') => {
  const pwFile = path.join(lab.dir, `pw-${node}-${password}`);
  writeFileSync(pwFile, `${password}\n`);
  return { ...process.env, RESTIC_REPOSITORY: repoOf(node), RESTIC_PASSWORD_FILE: pwFile };
};

beforeAll(async () => {
  lab = await startSshLab({
    nodes: [
      { name: 'b1', os: 'raspios', roles: ['support'] },
      { name: 'b2', os: 'raspios', roles: ['support'] },
      { name: 'b3', os: 'raspios', roles: ['support'] },
      { name: 'x86', os: 'nixos', roles: ['control-plane'] },
    ],
  });
  const src = path.join(lab.dir, 'src');
  mkdirSync(path.join(src, 'sub'), { recursive: true });
  for (let i = 0; i < 20; i++) writeFileSync(path.join(src, 'sub', `f${i}.txt`), `file ${i}\n`);
  // ~24 MiB of incompressible data, so `restic check --read-data` takes a moment (the lock test).
  writeFileSync(path.join(src, 'big.bin'), randomBytes(25_000_000));
  for (const n of ['b1', 'b2', 'b3']) {
    execFileSync('restic', ['init', '-q'], { env: resticEnv(n) });
  }
  // b3's node holds the wrong password.
  resticEnv('b3', 'pw-wrong');
  const envFile = path.join(lab.dir, 'restic.env');
  writeFileSync(
    envFile,
    [
      `RESTIC_REPOSITORY=${path.join(lab.dir, 'repos')}/$LAB_NODE`,
      `RESTIC_PASSWORD_FILE=${lab.dir}/pw-$LAB_NODE-$(if [ "$LAB_NODE" = b3 ]; then echo pw-wrong; else echo pw-good; fi)`,
      `RESTIC_CACHE_DIR=${lab.dir}/cache-$LAB_NODE`,
      '',
    ].join('\n'),
  );
  config = testConfig({
    ...labOverrides(lab),
    backup: { nodes: ['b1', 'b2', 'b3'], runWith: 'command', paths: [src], envFile },
  });
  app = await startApp(config);
}, 60_000);

afterAll(async () => {
  locker?.kill('SIGKILL');
  await app?.stop();
  await lab?.stop();
});

const run = (text: string) => runCommand(app, text);

const dump = (r: RecordingResponder) => JSON.stringify(r.last(), null, 1);

describe('/backup with real restic over real sshd nodes', () => {
  it('runs a backup with progress and the summary; /backup snapshots lists it', async () => {
    const r = await run('/backup run b1');
    const reply = r.last();
    expect(reply.severity, dump(r)).toBe('success');
    const field = reply.fields?.find((f) => f.name.startsWith('b1'));
    expect(field?.name).toBe('b1: ok');
    const id = /snapshot ([0-9a-f]{8})/.exec(field?.value ?? '')?.[1];
    expect(id, field?.value).toBeDefined();
    expect(field?.value).toMatch(/21 new, 0 changed, 0 unmodified files; [\d.]+ MiB added/);
    expect(r.progressed.some((p) => p.progress !== undefined)).toBe(true);

    const s = await run('/backup snapshots b1 5');
    expect(s.last().title).toBe('1 snapshot on b1');
    expect(s.last().code).toContain(id!);
    expect(s.last().code).toContain(path.join(lab.dir, 'src'));
  }, 60_000);

  it('explains a partial read (exit 3): the snapshot is still made', async () => {
    config.backup!.paths.push('/proc/self/mem');
    try {
      const r = await run('/backup run b1');
      const reply = r.last();
      expect(reply.severity, dump(r)).toBe('warning');
      const field = reply.fields?.[0];
      expect(field?.name).toBe('b1: partial');
      expect(field?.value).toMatch(/snapshot [0-9a-f]{8}/);
      expect(field?.value).toContain('Exit 3: some source files could not be read');
      expect(field?.value).toContain('/proc/self/mem');
    } finally {
      config.backup!.paths.pop();
    }
    expect((await run('/backup snapshots b1')).last().title).toBe('2 snapshots on b1');
  }, 60_000);

  it('explains a wrong password', async () => {
    const r = await run('/backup run b3');
    expect(r.last().severity, dump(r)).toBe('error');
    expect(r.last().fields?.[0]?.name).toBe('b3: FAILED');
    expect(r.last().fields?.[0]?.value).toMatch(/wrong password/);
    const s = await run('/backup snapshots b3');
    expect(s.last().severity).toBe('error');
    expect(s.last().title ?? s.last().text).toMatch(/wrong password/);
  }, 60_000);

  it('explains a locked repository (another restic holds an exclusive lock)', async () => {
    const env = resticEnv('b2');
    execFileSync('restic', ['backup', '-q', path.join(lab.dir, 'src')], { env });
    const locks = path.join(repoOf('b2'), 'locks');
    locker = spawn('restic', ['check', '--read-data'], { env, stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    // A finished lock file (restic writes `<id>-tmp-…` first, then renames it).
    const locked = () => readdirSync(locks).some((f) => /^[0-9a-f]{64}$/.test(f));
    while (!locked() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    locker.kill('SIGSTOP');
    expect(locked()).toBe(true);
    const r = await run('/backup run b2');
    expect(r.last().severity, dump(r)).toBe('error');
    expect(r.last().fields?.[0]?.value).toMatch(/repository is locked/);
    expect(r.last().fields?.[0]?.value).toContain('restic unlock');
    const exited = new Promise((resolve) => locker!.once('exit', resolve));
    locker.kill('SIGKILL');
    await exited;
    locker = undefined;
    // What the explanation suggests once nothing runs any more.
    execFileSync('restic', ['unlock', '-q'], { env });
    expect(readdirSync(locks)).toEqual([]);
  }, 60_000);

  it('/backup status: per node age, stale flag, errors per node', async () => {
    const fresh = await run('/backup status');
    const code = fresh.last().code ?? '';
    expect(code).toMatch(/b1 .* ok/);
    expect(code).toMatch(/b2 .* ok/);
    expect(code).toMatch(/b3 .* ERROR/);
    expect(fresh.last().fields?.find((f) => f.name === 'b3')?.value).toMatch(/wrong password/);

    config.backup!.staleHours = 0.0001; // 0.36 s
    try {
      await new Promise((resolve) => setTimeout(resolve, 800));
      const stale = await run('/backup status');
      expect(stale.last().severity).toBe('warning');
      expect(stale.last().title).toMatch(/3 of 3 backup nodes stale or failing/);
      expect(stale.last().code).toMatch(/b1 .* STALE/);
      expect(stale.last().code).toMatch(/b2 .* STALE/);
    } finally {
      config.backup!.staleHours = 26;
    }
  }, 60_000);

  it('runWith unit: starts the unit with sudo, waits, then reads the latest snapshot', async () => {
    config.backup!.runWith = 'unit';
    try {
      lab.node('b1').clearCalls();
      const r = await run('/backup run b1');
      expect(r.last().severity, dump(r)).toBe('success');
      expect(r.last().fields?.[0]?.value).toMatch(/latest snapshot [0-9a-f]{8} at /);
      const calls = lab.node('b1').calls('systemctl');
      expect(calls.map((c) => [c.sudo, ...c.argv])).toEqual([
        [true, 'systemctl', 'start', '--wait', 'restic-backup.service'],
      ]);

      lab
        .node('b2')
        .setScript('systemctl', 'echo "Job for restic-backup.service failed." >&2\nexit 1');
      const f = await run('/backup run b2');
      expect(f.last().severity, dump(f)).toBe('error');
      expect(f.last().fields?.[0]?.value).toContain('/node logs b2 restic-backup.service');
      expect(f.last().fields?.[0]?.value).toContain('Job for restic-backup.service failed.');
    } finally {
      config.backup!.runWith = 'command';
    }
  }, 60_000);

  it('dry_run shows the exact commands; non-backup nodes are refused with the list', async () => {
    const r = await run('/backup run all dry_run:true');
    const text = JSON.stringify(r.last());
    for (const n of ['b1', 'b2', 'b3']) expect(text).toContain(lab.node(n).host);
    expect(text).toContain('restic-env');
    expect(text).toContain('backup --json');
    expect(text).toContain(path.join(lab.dir, 'restic.env'));
    const before = readdirSync(path.join(repoOf('b1'), 'snapshots')).length;
    expect(before).toBe(2);

    const x = await run('/backup run x86');
    expect(JSON.stringify(x.last())).toMatch(/x86 is not a backup node/);
    expect(JSON.stringify(x.last())).toMatch(/Backup nodes: b1, b2, b3/);
    expect(existsSync(repoOf('x86'))).toBe(false);
  });
});
