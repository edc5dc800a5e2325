/**
 * Fake lab nodes for tests: one real OpenSSH `sshd` per node, each on its own loopback address
 * (127.0.0.11, .12, … — all of 127.0.0.0/8 is routed to `lo` on Linux, no setup needed) and port
 * 2222 (or a free port on that address when 2222 is taken, e.g. by another lab in a parallel
 * test file), with its own host key(s), one shared client key for the bot, and a PATH of
 * stand-in commands (POSIX sh scripts) that record every call to a log the test reads.
 *
 * How it is put together (OpenSSH 9.2 facts it relies on, checked by test/infra/ssh.test.ts):
 * - `sshd -D -e -f <config>` runs in the foreground, logs to stderr (we keep it: `sshdLog()`),
 *   and is started through `setpriv --pdeathsig SIGKILL` so the kernel kills it if the test
 *   process dies; exit/SIGTERM/SIGINT hooks kill every node and remove the temp dirs too.
 *   It needs the privilege separation dir `/run/sshd` (created here) and absolute paths.
 * - `SetEnv PATH=<stand-ins>:/usr/local/bin:/usr/bin:/bin` does reach exec sessions, but sshd
 *   runs the command with the user's login shell (`bash -c`), and Debian's bash sources
 *   `~/.bashrc` when started by sshd — root's may prepend to PATH (here: pyenv, cargo). So each
 *   node also gets `SetEnv HOME=<node dir>/home` (an empty home): bash then finds no .bashrc
 *   and the stand-ins stay first on PATH. `LAB_NODE` names the node in sessions.
 * - A session's processes are descendants of the node's listener sshd (per-connection sshd →
 *   session sshd → shell → command); killing the listener alone leaves sessions alive (as
 *   `systemctl restart ssh` does), so "power off" kills the listener and all its descendants.
 * - Reboot: the `systemctl reboot` / `reboot` stand-ins mark a reboot request and start
 *   `setsid sh lab-reboot.sh` detached (stdio to /dev/null, so the exec completes with exit 0);
 *   it waits 0.1 s, then powers the node off. When the harness sees its sshd exit with a reboot
 *   requested it starts sshd again after `rebootDelayMs` (default 2 s) — sshd stays a child of
 *   the test process, so nothing outlives it.
 * - `Accepted publickey for <user>` in the sshd log = one login = one TCP connection.
 *
 * Stand-ins (in every node's PATH; `standIns` add or replace by name, `setScript` at any time):
 * `systemctl` (reboot, poweroff, is-active/status/show from `setUnitState`, is-enabled,
 * enable/disable/start/stop/restart change that state — enough for Ansible's systemd module),
 * `reboot`, `swapoff` (no-op), `cat` (the node's own /proc/sys/kernel/random/boot_id, new after
 * each reboot; otherwise the real cat), `journalctl -u <unit> -n <n>` (canned lines), `sudo` (requires
 * `-n`, takes Ansible's become flags `-H -S -u root`, runs the rest with LAB_SUDO=1 so the
 * calls under it are recorded with `sudo: true`), raspios: `vcgencmd`
 * (`measure_temp` → `temp=48.3'C`, `get_throttled`), `pihole`; nixos: `nixos-rebuild`.
 * `uptime`, `free`, `df`, `sh` … are the real ones; restic is not stubbed.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import type { NodeConfig } from '../../src/config/schema.js';
import type { SshTarget } from '../../src/infra/ssh.js';

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';

export interface LabNodeSpec {
  name: string;
  os: NodeConfig['os'];
  roles?: NodeConfig['roles'];
  groups?: string[];
  k3sName?: string;
  /** Host keys sshd has (all pinned in lab.knownHostsFile). Default ['ed25519']. */
  hostKeyTypes?: HostKeyType[];
  /** Extra or replacing stand-ins for this node: name → sh body (runs after the call is recorded). */
  standIns?: Record<string, string>;
}

export interface SshLabOptions {
  nodes: LabNodeSpec[];
  /** Extra or replacing stand-ins on every node: name → sh body. */
  standIns?: Record<string, string>;
  /** How long a node stays down after `systemctl reboot`. Default 2000 ms. */
  rebootDelayMs?: number;
  /** Preferred port (default 2222); a free one on the node's address is used if it is taken. */
  port?: number;
}

export interface StandInCall {
  /** argv[0] is the stand-in's name. */
  argv: string[];
  /** ms since the epoch, when the stand-in started. */
  at: number;
  pid: number;
  /** Ran under the `sudo` stand-in. */
  sudo: boolean;
}

export interface LabNode {
  name: string;
  os: NodeConfig['os'];
  host: string;
  port: number;
  user: string;
  /** This node's temp dir (bin/, home/, run/ — emptied by a reboot, calls.log, sshd_config, host keys). */
  dir: string;
  target: SshTarget;
  /** Calls to stand-ins so far, oldest first; only those of one stand-in if named. */
  calls(standIn?: string): StandInCall[];
  clearCalls(): void;
  /** Writes (or replaces) the stand-in `name`: the call is recorded, then `body` runs (sh). */
  setScript(name: string, body: string): void;
  /** What `systemctl is-active <unit>` answers (default `active`). */
  setUnitState(unit: string, state: string): void;
  /** What `systemctl is-enabled <unit>` answers (default `enabled`). */
  setUnitEnabled(unit: string, state: 'enabled' | 'disabled'): void;
  /** How long this node stays down on reboot. */
  rebootDelayMs: number;
  /** How many times the node came back from a stand-in reboot. */
  reboots(): number;
  /** What `cat /proc/sys/kernel/random/boot_id` answers: new after each stand-in reboot. */
  bootId(): string;
  /** Powers the node off: sshd and every session on it. Cancels a pending reboot. */
  stop(): Promise<void>;
  /** Starts sshd (no-op when up); resolves when it listens. */
  start(): Promise<void>;
  /** Whether sshd is running and listening. */
  isUp(): boolean;
  /** SIGSTOP/SIGCONT sshd and all sessions: TCP stays open but nothing answers. */
  freeze(): void;
  thaw(): void;
  /** New host key(s) (a "reinstall"), sshd restarted; lab.knownHostsFile keeps the old pins. */
  rotateHostKey(): Promise<void>;
  /** Current host keys: `type base64` and OpenSSH fingerprints. */
  hostKeys(): { type: string; publicKey: string; fingerprint: string }[];
  /** known_hosts lines for the current host keys (`[host]:port type key`). */
  knownHostsLines(): string[];
  /** sshd's stderr log so far (all runs). */
  sshdLog(): string;
  /** Successful logins so far (= SSH connections that authenticated). */
  logins(): number;
}

export interface SshLab {
  nodes: LabNode[];
  node(name: string): LabNode;
  /** Pins every node's host keys as they were at start (or at the last pinHostKeys()). */
  knownHostsFile: string;
  /** The bot's private key (ed25519, unencrypted), authorized on every node. */
  privateKeyFile: string;
  publicKey: string;
  dir: string;
  /** OpenSSH version of the sshd binary, e.g. [9, 2]. */
  sshdVersion: [number, number];
  /** NodeConfig-shaped inventory entries for the bot's config. */
  inventory(): NodeConfig[];
  /** Rewrites knownHostsFile from the nodes' current host keys. */
  pinHostKeys(): void;
  stop(): Promise<void>;
}

const SSHD = process.env.SSHD_BIN ?? '/usr/sbin/sshd';
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const READY_TIMEOUT_MS = 10_000;

/** Every node of a lab not stopped yet, for the exit hooks. */
const live = new Set<NodeImpl>();
const labDirs = new Set<string>();
let hooksInstalled = false;

function killAllSync(): void {
  for (const n of live) n.killSync();
  live.clear();
  for (const d of labDirs) rmSync(d, { recursive: true, force: true });
  labDirs.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAllSync);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const onSignal = () => {
      killAllSync();
      process.off(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Single-quotes for sh. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function sshdVersion(): [number, number] {
  const r = spawnSync(SSHD, ['-V'], { encoding: 'utf8' });
  if (r.error) {
    throw new Error(
      `cannot run ${SSHD} (${r.error.message}): install openssh-server (apt-get install openssh-server)`,
    );
  }
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/**
 * Stand-ins still running from this node's bin/ whose session is gone (e.g. a client killed
 * mid-command leaves `sleep` in a stand-in running, reparented away from sshd), with their
 * descendants.
 */
function strays(binDir: string): number[] {
  const needle = `${binDir}/`;
  const found: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) found.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return [...found, ...found.flatMap((p) => descendants(p))];
}

/** PIDs of every descendant of `root` (by PPid in /proc), breadth first. */
function descendants(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const m = /^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'));
      if (!m) continue;
      const ppid = Number(m[1]);
      const list = kids.get(ppid) ?? [];
      list.push(Number(d));
      kids.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const queue = [...(kids.get(root) ?? [])];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(kids.get(p) ?? []));
  }
  return out;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

function freePortOn(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function keygen(file: string, type: HostKeyType, comment: string): void {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  const args = ['-q', '-t', type, '-N', '', '-C', comment, '-f', file];
  if (type === 'rsa') args.push('-b', '2048');
  execFileSync('ssh-keygen', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function fingerprintOf(pubFile: string): string {
  const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], {
    encoding: 'utf8',
  });
  return out.split(/\s+/)[1] ?? '';
}

/** Parses calls.log: records of NUL-terminated fields `at pid sudo name argc args…`. */
function parseCalls(buf: Buffer): StandInCall[] {
  const fields = buf.toString('utf8').split('\0');
  const calls: StandInCall[] = [];
  let i = 0;
  while (i + 5 <= fields.length - 1) {
    const [at, pid, sudo, name, argcText] = fields.slice(i, i + 5) as string[];
    const argc = Number(argcText);
    if (i + 5 + argc > fields.length - 1) break; // a record still being written
    calls.push({
      argv: [name ?? '', ...fields.slice(i + 5, i + 5 + argc)],
      at: Number(at),
      pid: Number(pid),
      sudo: sudo === '1',
    });
    i += 5 + argc;
  }
  return calls;
}

const LIB_SH = (dir: string) => `# Shared by this node's stand-ins.
lab_reboot() {
  : > ${q(`${dir}/reboot-requested`)}
  setsid sh ${q(`${dir}/lab-reboot.sh`)} </dev/null >/dev/null 2>&1 &
}
lab_poweroff() {
  rm -f ${q(`${dir}/reboot-requested`)}
  setsid sh ${q(`${dir}/lab-reboot.sh`)} </dev/null >/dev/null 2>&1 &
}
lab_unit_state() {
  u=\${1%.service}
  if [ -f "$LAB_NODE_DIR/units/$u" ]; then /bin/cat "$LAB_NODE_DIR/units/$u"; else echo active; fi
}
lab_unit_enabled() {
  u=\${1%.service}
  if [ -f "$LAB_NODE_DIR/units/$u.enabled" ]; then /bin/cat "$LAB_NODE_DIR/units/$u.enabled"; else echo enabled; fi
}
`;

/** Kills the listener and every session under it; run detached by the reboot stand-ins. */
const REBOOT_SH = (dir: string) => `#!/bin/sh
sleep 0.1
root=$(/bin/cat ${q(`${dir}/sshd.pid`)} 2>/dev/null) || exit 0
tree=$(for f in /proc/[0-9]*/status; do
  p=\${f#/proc/}; p=\${p%/status}
  while read -r k v; do
    if [ "$k" = PPid: ]; then echo "$p $v"; break; fi
  done < "$f"
done 2>/dev/null | awk -v root="$root" -v self="$$" '
  { kids[$2] = kids[$2] " " $1 }
  END {
    n = split(kids[root], q, " "); i = 1; out = ""
    while (i <= n) {
      p = q[i++]; if (p == self) continue
      out = out " " p
      m = split(kids[p], c, " "); for (j = 1; j <= m; j++) q[++n] = c[j]
    }
    print out
  }')
kill -TERM "$root" 2>/dev/null
[ -n "$tree" ] && kill -KILL $tree 2>/dev/null
exit 0
`;

function defaultStandIns(os: NodeConfig['os']): Record<string, string> {
  const s: Record<string, string> = {
    systemctl: `quiet=
cmd=
for a in "$@"; do
  case "$a" in -q|--quiet) quiet=1 ;; -*) ;; *) [ -z "$cmd" ] && cmd=$a ;; esac
done
case "$cmd" in
  reboot) lab_reboot ;;
  poweroff|halt) lab_poweroff ;;
  is-active)
    rc=0
    shift
    for u in "$@"; do
      case "$u" in -*|is-active) continue ;; esac
      st=$(lab_unit_state "$u")
      [ -n "$quiet" ] || echo "$st"
      [ "$st" = active ] || rc=3
    done
    exit $rc ;;
  status)
    rc=0
    for u in "$@"; do
      case "$u" in -*|status) continue ;; esac
      st=$(lab_unit_state "$u")
      echo "● \${u%.service}.service - \${u%.service}"
      echo "     Loaded: loaded (/etc/systemd/system/\${u%.service}.service; enabled)"
      echo "     Active: $st"
      [ "$st" = active ] || rc=3
    done
    exit $rc ;;
  show)
    for u in "$@"; do
      case "$u" in -*|show) continue ;; esac
      u=\${u%.service}
      st=$(lab_unit_state "$u")
      echo "Id=$u.service"
      echo "LoadState=loaded"
      echo "ActiveState=$st"
      [ "$st" = active ] && echo "SubState=running" || echo "SubState=dead"
      echo "UnitFileState=$(lab_unit_enabled "$u")"
    done
    exit 0 ;;
  is-enabled)
    rc=0
    for u in "$@"; do
      case "$u" in -*|is-enabled) continue ;; esac
      en=$(lab_unit_enabled "$u")
      echo "$en"
      [ "$en" = enabled ] || rc=1
    done
    exit $rc ;;
  enable|disable|start|stop|restart)
    for u in "$@"; do
      case "$u" in -*|"$cmd") continue ;; esac
      u=\${u%.service}
      case "$cmd" in
        enable) echo enabled > "$LAB_NODE_DIR/units/$u.enabled" ;;
        disable) echo disabled > "$LAB_NODE_DIR/units/$u.enabled" ;;
        start|restart) echo active > "$LAB_NODE_DIR/units/$u" ;;
        stop) echo inactive > "$LAB_NODE_DIR/units/$u" ;;
      esac
    done
    exit 0 ;;
esac
exit 0`,
    swapoff: 'exit 0',
    // The node's own boot id (new after each lab reboot); any other cat is the real one.
    cat: `if [ $# -eq 1 ] && [ "$1" = /proc/sys/kernel/random/boot_id ]; then
  exec /bin/cat "$LAB_NODE_DIR/boot_id"
fi
exec /bin/cat "$@"`,
    reboot: 'lab_reboot\nexit 0',
    journalctl: `unit=unknown
n=10
while [ $# -gt 0 ]; do
  case "$1" in
    -u|--unit) unit=$2; shift ;;
    -u*) unit=\${1#-u} ;;
    --unit=*) unit=\${1#--unit=} ;;
    -n|--lines) n=$2; shift ;;
    -n*) n=\${1#-n} ;;
    --lines=*) n=\${1#--lines=} ;;
  esac
  shift
done
unit=\${unit%.service}
now=$(date '+%b %d %H:%M:%S')
i=1
while [ "$i" -le "$n" ] && [ "$i" -le 200 ]; do
  echo "$now $LAB_NODE $unit[1234]: canned log line $i of $unit"
  i=$((i + 1))
done
exit 0`,
    // Passwordless sudo as on Raspberry Pi OS, but only non-interactive (-n), as the bot and
    // Ansible's become (\`sudo -H -S -n -u root /bin/sh -c …\`) call it.
    sudo: `n=
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n=1 ;;
    -H|-S|-E) ;;
    -u) [ "$2" = root ] || { echo "sudo: the lab only runs commands as root" >&2; exit 1; }; shift ;;
    --) shift; break ;;
    -*) echo "sudo: option $1 is not known to the lab's sudo" >&2; exit 1 ;;
    *) break ;;
  esac
  shift
done
if [ -z "$n" ]; then
  echo "sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper" >&2
  echo "sudo: a password is required" >&2
  exit 1
fi
if [ $# -eq 0 ]; then echo "usage: sudo -n command" >&2; exit 1; fi
export LAB_SUDO=1
exec "$@"`,
  };
  if (os === 'raspios') {
    s.vcgencmd = `case "$1" in
  measure_temp) echo "temp=48.3'C" ;;
  get_throttled) echo "throttled=0x0" ;;
  measure_volts) echo "volt=0.8600V" ;;
  *) echo "error=2 error_msg=\\"Command not registered\\"" >&2; exit 255 ;;
esac
exit 0`;
    s.pihole = `case "$1" in
  status) echo "  [✓] FTL is listening on port 53"; echo "  [✓] Pi-hole blocking is enabled" ;;
  -v|version) echo "Core version is v6.0.4"; echo "FTL version is v6.0.2" ;;
  *) echo "pihole $*: ok" ;;
esac
exit 0`;
  } else {
    s['nixos-rebuild'] = `action=\${1:-switch}
echo "building the system configuration..." >&2
sleep 0.05
echo "these 2 derivations will be built:" >&2
echo "  /nix/store/7x1q3a5hw0n3xd2s5r0f4zsk2g9q8m1c-etc.drv" >&2
echo "  /nix/store/b3k6p2l0c9r4yq8w5x7d1f0h2j3n6m9s-nixos-system-$LAB_NODE-24.11.drv" >&2
sleep 0.05
echo "building '/nix/store/b3k6p2l0c9r4yq8w5x7d1f0h2j3n6m9s-nixos-system-$LAB_NODE-24.11.drv'..." >&2
case "$action" in
  switch|test)
    echo "activating the configuration..." >&2
    echo "setting up /etc..." >&2
    echo "reloading user units for root..." >&2
    echo "restarting sysinit-reactivation.target" >&2 ;;
  boot) echo "updating GRUB 2 menu..." >&2 ;;
esac
exit 0`;
  }
  return s;
}

class NodeImpl implements LabNode {
  readonly user = userInfo().username;
  readonly target: SshTarget;
  rebootDelayMs: number;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private listening = false;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private starting?: Promise<void>;
  private log = '';
  private rebootCount = 0;
  private everStarted = false;

  constructor(
    readonly spec: LabNodeSpec,
    readonly host: string,
    public port: number,
    readonly dir: string,
    private readonly lab: {
      authorizedKeys: string;
      version: [number, number];
      rebootDelayMs: number;
    },
  ) {
    this.rebootDelayMs = lab.rebootDelayMs;
    this.target = { name: spec.name, host, port, user: this.user };
  }

  get name() {
    return this.spec.name;
  }
  get os() {
    return this.spec.os;
  }

  private get keyTypes(): HostKeyType[] {
    return this.spec.hostKeyTypes ?? ['ed25519'];
  }

  private hostKeyFile(type: HostKeyType) {
    return path.join(this.dir, 'hostkeys', `ssh_host_${type}_key`);
  }

  setup(commonStandIns: Record<string, string> | undefined): void {
    for (const sub of ['bin', 'home', 'hostkeys', 'units', 'run']) {
      mkdirSync(path.join(this.dir, sub), { recursive: true });
    }
    writeFileSync(path.join(this.dir, 'calls.log'), '');
    this.newBootId();
    writeFileSync(path.join(this.dir, 'lib.sh'), LIB_SH(this.dir));
    writeFileSync(path.join(this.dir, 'lab-reboot.sh'), REBOOT_SH(this.dir), { mode: 0o755 });
    this.generateHostKeys();
    const scripts = { ...defaultStandIns(this.os), ...commonStandIns, ...this.spec.standIns };
    for (const [name, body] of Object.entries(scripts)) this.setScript(name, body);
  }

  private generateHostKeys(): void {
    for (const t of this.keyTypes) keygen(this.hostKeyFile(t), t, `lab-${this.name}`);
  }

  private writeConfig(): string {
    const file = path.join(this.dir, 'sshd_config');
    const lines = [
      `ListenAddress ${this.host}:${this.port}`,
      ...this.keyTypes.map((t) => `HostKey ${this.hostKeyFile(t)}`),
      `PidFile ${path.join(this.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${this.lab.authorizedKeys}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      `SetEnv PATH=${path.join(this.dir, 'bin')}:/usr/local/bin:/usr/bin:/bin HOME=${path.join(this.dir, 'home')} LAB_NODE=${this.name}`,
      'Subsystem sftp internal-sftp',
      'PrintMotd no',
      'PrintLastLog no',
      'X11Forwarding no',
      'UseDNS no',
      'LogLevel INFO',
      'LoginGraceTime 10',
      'MaxStartups 100:30:200',
    ];
    // OpenSSH ≥ 9.8 penalises sources of failed handshakes (our host key tests make some).
    const [maj, min] = this.lab.version;
    if (maj > 9 || (maj === 9 && min >= 8)) lines.push('PerSourcePenalties no');
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  calls(standIn?: string): StandInCall[] {
    const all = parseCalls(readFileSync(path.join(this.dir, 'calls.log')));
    return standIn ? all.filter((c) => c.argv[0] === standIn) : all;
  }

  clearCalls(): void {
    writeFileSync(path.join(this.dir, 'calls.log'), '');
    this.newBootId();
  }

  setScript(name: string, body: string): void {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`bad stand-in name ${name}`);
    const file = path.join(this.dir, 'bin', name);
    const script = `#!/bin/sh
# Stand-in for \`${name}\` on fake node ${this.name}: records the call, then runs the body.
LAB_NODE=${q(this.name)}
LAB_NODE_DIR=${q(this.dir)}
LAB_OS=${q(this.os)}
printf '%s\\0' "$(date +%s%3N)" "$$" "\${LAB_SUDO:-0}" ${q(name)} "$#" "$@" >> "$LAB_NODE_DIR/calls.log"
. "$LAB_NODE_DIR/lib.sh"
${body}
`;
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, script, { mode: 0o755 });
    renameSync(tmp, file);
  }

  setUnitState(unit: string, state: string): void {
    writeFileSync(path.join(this.dir, 'units', unit.replace(/\.service$/, '')), `${state}\n`);
  }

  setUnitEnabled(unit: string, state: 'enabled' | 'disabled'): void {
    writeFileSync(
      path.join(this.dir, 'units', `${unit.replace(/\.service$/, '')}.enabled`),
      `${state}\n`,
    );
  }

  reboots(): number {
    return this.rebootCount;
  }

  bootId(): string {
    return readFileSync(path.join(this.dir, 'boot_id'), 'utf8').trim();
  }

  private newBootId(): void {
    writeFileSync(path.join(this.dir, 'boot_id'), `${randomUUID()}\n`);
  }

  isUp(): boolean {
    return this.listening;
  }

  sshdLog(): string {
    return this.log;
  }

  logins(): number {
    return this.log.match(/Accepted publickey for /g)?.length ?? 0;
  }

  hostKeys() {
    return this.keyTypes.map((t) => {
      const pub = readFileSync(`${this.hostKeyFile(t)}.pub`, 'utf8')
        .trim()
        .split(/\s+/);
      return {
        type: pub[0] ?? '',
        publicKey: `${pub[0]} ${pub[1]}`,
        fingerprint: fingerprintOf(`${this.hostKeyFile(t)}.pub`),
      };
    });
  }

  knownHostsLines(): string[] {
    const name = this.port === 22 ? this.host : `[${this.host}]:${this.port}`;
    return this.hostKeys().map((k) => `${name} ${k.publicKey}`);
  }

  start(): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (this.listening) return Promise.resolve();
    this.starting ??= this.startNow().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async startNow(): Promise<void> {
    if (this.child) await this.exited; // still going down
    this.stopping = false;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.launch();
        this.everStarted = true;
        return;
      } catch (err) {
        // Another process took the port between our check and sshd's bind: only before the
        // first start (afterwards the pinned [host]:port must stay).
        const busy = /Address already in use|Cannot bind any address/.test(String(err));
        if (!busy || this.everStarted || attempt >= 3) throw err;
        this.port = await freePortOn(this.host);
        this.target.port = this.port;
      }
    }
  }

  private launch(): Promise<void> {
    const config = this.writeConfig();
    const args = ['-D', '-e', '-f', config];
    const child = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', '--', SSHD, ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
        })
      : spawn(SSHD, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let runLog = '';
    const ready = `Server listening on ${this.host} port ${this.port}`;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        child.kill('SIGKILL');
        reject(
          new Error(
            `sshd for ${this.name} did not listen within ${READY_TIMEOUT_MS} ms\n${runLog}`,
          ),
        );
      }, READY_TIMEOUT_MS);
      child.stderr?.on('data', (d: Buffer) => {
        const text = d.toString();
        runLog += text;
        this.log += text;
        if (this.log.length > 1_000_000) this.log = this.log.slice(-500_000);
        if (!settled && runLog.includes(ready)) {
          settled = true;
          clearTimeout(timer);
          this.listening = true;
          if (child.pid) writeFileSync(path.join(this.dir, 'sshd.pid'), `${child.pid}\n`);
          resolve();
        }
      });
      this.exited = new Promise<void>((done) => {
        const onGone = (why: string) => {
          if (this.child === child) {
            this.child = undefined;
            this.listening = false;
          }
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            reject(
              new Error(`sshd for ${this.name} (${SSHD} ${args.join(' ')}) ${why}\n${runLog}`),
            );
          } else this.onExit();
          done();
        };
        child.once('exit', (code, signal) => onGone(`exited (code ${code}, signal ${signal})`));
        child.once('error', (err) => onGone(`could not be started: ${err.message}`));
      });
    });
  }

  /** The listener went away: come back after the delay if a stand-in asked for a reboot. */
  private onExit(): void {
    const marker = path.join(this.dir, 'reboot-requested');
    if (this.stopping || !existsSync(marker)) return;
    unlinkSync(marker);
    // Like /run, the node's run/ is a tmpfs: empty after a reboot. And a new boot id.
    const run = path.join(this.dir, 'run');
    rmSync(run, { recursive: true, force: true });
    mkdirSync(run);
    this.newBootId();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.start().then(
        () => {
          this.rebootCount++;
        },
        (err) => {
          this.log += `\n[lab] restart after reboot failed: ${(err as Error).message}\n`;
        },
      );
    }, this.rebootDelayMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    rmSync(path.join(this.dir, 'reboot-requested'), { force: true });
    const child = this.child;
    const bin = path.join(this.dir, 'bin');
    if (!child?.pid) {
      signalAll(strays(bin), 'SIGKILL');
      return;
    }
    const tree = [...descendants(child.pid), ...strays(bin)];
    signalAll([child.pid], 'SIGCONT');
    signalAll(tree, 'SIGKILL');
    child.kill('SIGTERM');
    const hard = setTimeout(() => child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(hard);
  }

  killSync(): void {
    const pid = this.child?.pid;
    const stray = strays(path.join(this.dir, 'bin'));
    signalAll(pid ? [...descendants(pid), pid, ...stray] : stray, 'SIGKILL');
  }

  freeze(): void {
    const pid = this.child?.pid;
    if (pid) signalAll([pid, ...descendants(pid)], 'SIGSTOP');
  }

  thaw(): void {
    const pid = this.child?.pid;
    if (pid) signalAll([pid, ...descendants(pid)], 'SIGCONT');
  }

  async rotateHostKey(): Promise<void> {
    const wasUp = this.isUp();
    await this.stop();
    this.generateHostKeys();
    if (wasUp) await this.start();
  }

  inventory(): NodeConfig {
    return {
      name: this.name,
      host: this.host,
      port: this.port,
      user: this.user,
      os: this.os,
      roles: this.spec.roles ?? [],
      groups: this.spec.groups ?? [],
      ...(this.spec.k3sName ? { k3sName: this.spec.k3sName } : {}),
    };
  }
}

export async function startSshLab(opts: SshLabOptions): Promise<SshLab> {
  if (opts.nodes.length === 0 || opts.nodes.length > 200) throw new Error('1–200 nodes');
  installHooks();
  const version = sshdVersion();
  try {
    // sshd's privilege separation directory (Debian's ssh.service creates it at boot).
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  } catch {
    // not root: sshd then runs without it (and can only log in as this user)
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'chatops-ssh-lab-'));
  labDirs.add(dir);
  const nodes: NodeImpl[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const n of nodes) live.delete(n);
    rmSync(dir, { recursive: true, force: true });
    labDirs.delete(dir);
  };
  try {
    const privateKeyFile = path.join(dir, 'bot_ed25519');
    keygen(privateKeyFile, 'ed25519', 'homelab-chatops@lab');
    const publicKey = readFileSync(`${privateKeyFile}.pub`, 'utf8').trim();
    const authorizedKeys = path.join(dir, 'authorized_keys');
    writeFileSync(authorizedKeys, `${publicKey}\n`);
    const knownHostsFile = path.join(dir, 'known_hosts');
    // One preferred port per vitest worker: a node that is down (rebooting) frees its port, and a
    // lab starting in a parallel worker must not take it over on the same loopback address.
    const worker = Math.max(1, Number(process.env.VITEST_POOL_ID ?? 1) || 1);
    const preferred = opts.port ?? 2222 + (worker - 1) * 10;
    const seen = new Set<string>();
    for (const [i, spec] of opts.nodes.entries()) {
      if (seen.has(spec.name)) throw new Error(`duplicate node ${spec.name}`);
      seen.add(spec.name);
      const host = `127.0.0.${11 + i}`;
      const port = (await canBind(host, preferred)) ? preferred : await freePortOn(host);
      const node = new NodeImpl(spec, host, port, path.join(dir, 'nodes', spec.name), {
        authorizedKeys,
        version,
        rebootDelayMs: opts.rebootDelayMs ?? 2000,
      });
      node.setup(opts.standIns);
      nodes.push(node);
      live.add(node);
    }
    await Promise.all(nodes.map((n) => n.start()));
    const pinHostKeys = () => {
      writeFileSync(knownHostsFile, `${nodes.flatMap((n) => n.knownHostsLines()).join('\n')}\n`);
    };
    pinHostKeys();
    return {
      nodes,
      node(name) {
        const n = nodes.find((x) => x.name === name);
        if (!n) throw new Error(`no lab node ${name}; have ${nodes.map((x) => x.name).join(', ')}`);
        return n;
      },
      knownHostsFile,
      privateKeyFile,
      publicKey,
      dir,
      sshdVersion: version,
      inventory: () => nodes.map((n) => n.inventory()),
      pinHostKeys,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
}
