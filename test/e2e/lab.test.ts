/**
 * `npm run lab` end to end: the lab starts as a child process (as `npm run lab` runs it: node
 * with tsx, from the repository), the real CLI runs against the config it wrote with piped
 * input — one command of each family — and SIGINT (Ctrl-C) stops it, leaving no process of it
 * behind (its sshd nodes and Alertmanager are found by the temp dir the lab got as TMPDIR).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LAB = [process.execPath, '--import', 'tsx', 'scripts/lab/main.ts'];

let dir: string;
let labTmp: string;
let lab: ChildProcess;
let out = '';

/** Live processes whose command line mentions `needle` (zombies are not running). */
function processesWith(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const state = /^State:\s*(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (cmd.includes(needle) && state !== 'Z') found.push(`${pid} ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const labEnv = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: labTmp });

beforeAll(async () => {
  dir = path.join(mkdtempSync(path.join(tmpdir(), 'chatops-lab-test-')), 'lab');
  labTmp = mkdtempSync(path.join(tmpdir(), 'chatops-lab-tmp-'));
  lab = spawn(LAB[0]!, [...LAB.slice(1), '--dir', dir], {
    cwd: ROOT,
    env: labEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  lab.stdout!.on('data', (d) => {
    out += d;
  });
  lab.stderr!.on('data', (d) => {
    out += d;
  });
  const ready = `npm start -- --config ${path.join(dir, 'config.yaml')}`;
  const end = Date.now() + 110_000;
  while (!out.includes(ready)) {
    if (lab.exitCode !== null) throw new Error(`the lab exited (${lab.exitCode}):\n${out}`);
    if (Date.now() > end) throw new Error(`the lab did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 120_000);

afterAll(() => {
  if (lab && lab.exitCode === null && lab.signalCode === null) lab.kill('SIGKILL');
  if (dir) rmSync(path.dirname(dir), { recursive: true, force: true });
  if (labTmp) rmSync(labTmp, { recursive: true, force: true });
});

describe('npm run lab', () => {
  it('says what it started and writes the config with every part', () => {
    expect(out).toMatch(/nodes {5}7 sshd nodes \(x86 127\.0\.0\.\d+:\d+, pi5 /);
    expect(out).toMatch(/alerts {4}Alertmanager http:\/\/127\.0\.0\.1:\d+ → the bot's http/);
    expect(out).toContain('backups   restic repositories for pi1, pi2, pi3');
    const config = readFileSync(path.join(dir, 'config.yaml'), 'utf8');
    expect(config).toContain(path.join(dir, 'ssh', 'known_hosts'));
    expect(config).toContain(path.join(dir, 'kubeconfig.yaml'));
    expect(processesWith(labTmp).filter((p) => p.includes('sshd'))).toHaveLength(7);
    expect(processesWith(labTmp).filter((p) => p.includes('alertmanager'))).toHaveLength(1);
  });

  it('--alert sends a sample alert through its Alertmanager', () => {
    const r = spawnSync(LAB[0]!, [...LAB.slice(1), '--alert', '--dir', dir], {
      cwd: ROOT,
      env: labEnv(),
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Sent NodeHighTemperature \(pi4-a\) to Alertmanager at http/);
  });

  it('answers one command of each family from the console, for real', async () => {
    const r = await runCli(
      [
        '/node status',
        '/argo sync home-assistant',
        '/pihole status',
        '/backup status',
        '/alert list',
        '/task add "Replace the SD card" node:pi3',
        '',
      ].join('\n'),
      { args: ['--config', path.join(dir, 'config.yaml')] },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const o = r.stdout;
    expect(o).toContain('✔ 7 nodes up');
    expect(o).toMatch(/pi4-a\s+up\s+.*48\.3°C\s+Ready v1\.31\.4\+k3s1 \d+ pods/);
    expect(o).toMatch(/pi1\s+up\s+.*48\.3°C\s+-/);
    expect(o).toContain('› ✔ Deployment home-assistant/home-assistant: Synced');
    expect(o).toMatch(/✔ home-assistant synced to [0-9a-f]{7}/);
    expect(o).toContain('Now: sync Synced, health Healthy.');
    expect(o).toContain('✔ Pi-hole status');
    expect(o.match(/✔ blocking on/g)).toHaveLength(3);
    expect(o).toContain('✔ 3 backup nodes fresh (within 26 h)');
    for (const n of ['pi1', 'pi2', 'pi3']) expect(o).toMatch(new RegExp(`${n}\\s+\\S+Z\\s+.*ok`));
    expect(o).toMatch(/NodeHighTemperature\s+warning\s+pi4-a:9100\s+monitoring/);
    expect(o).toMatch(/✔ Added T-\d{4}: Replace the SD card/);
  }, 120_000);

  it('Ctrl-C (SIGINT) stops it and everything it started', async () => {
    const exited = new Promise<number | null>((r) => lab.once('exit', (code) => r(code)));
    lab.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('The lab is stopped; nothing it started is running.');
    expect(processesWith(labTmp)).toEqual([]);
    expect(processesWith(dir)).toEqual([]);
  }, 60_000);
});
