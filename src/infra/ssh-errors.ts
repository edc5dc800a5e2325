import { UserError } from '../core/errors.js';

export interface SshTarget {
  name: string;
  host: string;
  port: number;
  user: string;
}

/** `pi4-a (10.0.0.21:22)`: how a node is named in messages. */
export function describeTarget(node: SshTarget): string {
  return `${node.name} (${node.host}:${node.port})`;
}

function keyscanCommand(node: SshTarget, knownHostsFile: string): string {
  const port = node.port === 22 ? '' : `-p ${node.port} `;
  return `ssh-keyscan ${port}${node.host} >> ${knownHostsFile}`;
}

/** The node presented a host key other than the pinned one(s): refused, nothing ran. */
export class HostKeyMismatchError extends UserError {
  constructor(
    readonly node: SshTarget,
    readonly expected: string[],
    readonly got: string,
    readonly knownHostsFile: string,
    /** The presented key is listed as `@revoked`. */
    readonly revoked = false,
  ) {
    const where = describeTarget(node);
    super(
      revoked
        ? `HOST KEY REVOKED for ${where}: it presented ${got}, which ${knownHostsFile} marks @revoked — refusing to connect. Someone may be intercepting, or the node still has a retired key.`
        : `HOST KEY MISMATCH for ${where}: expected ${expected.join(' or ')}, got ${got} — refusing to connect. If the node was reinstalled, update the known_hosts file (${knownHostsFile}); otherwise someone may be intercepting.`,
      `To re-pin after a reinstall: remove the node's old line from ${knownHostsFile}, run \`${keyscanCommand(node, knownHostsFile)}\`, and compare the new fingerprint (\`ssh-keygen -lf ${knownHostsFile}\`) with the one shown on the node's own console (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\`).`,
    );
  }
}

/** No key is pinned for this host:port: refused before connecting. */
export class UnknownHostError extends UserError {
  constructor(
    readonly node: SshTarget,
    readonly knownHostsFile: string,
  ) {
    super(
      `${describeTarget(node)} has no pinned host key in ${knownHostsFile} — refusing to connect to an unverified host.`,
      `Pin it: \`${keyscanCommand(node, knownHostsFile)}\`, then verify the fingerprint out of band (\`ssh-keygen -lf ${knownHostsFile}\` here vs \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the node's console).`,
    );
  }
}

/** TCP or the SSH handshake failed: refused, timed out, no route, no handshake. */
export class SshUnreachableError extends UserError {
  constructor(
    readonly node: SshTarget,
    readonly reason: string,
  ) {
    super(`${describeTarget(node)} is not reachable: ${reason}`);
  }
}

/** The node answered with the pinned key but did not accept the bot's key. */
export class SshAuthError extends UserError {
  constructor(
    readonly node: SshTarget,
    reason: string,
  ) {
    super(
      `${describeTarget(node)} refused the SSH login as ${node.user}: ${reason}`,
      `Is the bot's public key in ~${node.user}/.ssh/authorized_keys on ${node.name}?`,
    );
  }
}

/**
 * A command ran longer than its timeout: it was sent TERM, then KILL, and its channel closed.
 * `stopped`: it was seen to end (else it may still be running on the node).
 */
export class SshTimeoutError extends UserError {
  constructor(
    readonly node: SshTarget,
    readonly command: string,
    readonly timeoutMs: number,
    readonly stopped: boolean,
  ) {
    super(
      `\`${command}\` on ${describeTarget(node)} timed out after ${formatMs(timeoutMs)}; ${
        stopped
          ? 'it was stopped.'
          : 'its SSH channel was closed, but it may still be running there.'
      }`,
    );
  }
}

/** The connection dropped while a command was running: its outcome is unknown. */
export class SshConnectionLostError extends UserError {
  constructor(
    readonly node: SshTarget,
    readonly command: string,
    reason: string,
  ) {
    super(
      `The SSH connection to ${describeTarget(node)} dropped while \`${command}\` was running (${reason}); it may or may not have finished.`,
    );
  }
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  return Number.isInteger(s) ? `${s} s` : `${s.toFixed(1)} s`;
}

const SAFE = /^[A-Za-z0-9_@%+,.:/-]+$/;

/**
 * Quotes argv for a POSIX shell (the login shell sshd runs the command with): each element
 * becomes one word, verbatim. Safe characters stay bare, everything else is single-quoted
 * (`'` → `'\''`). `=` and `~` are quoted too (an assignment or tilde expansion otherwise).
 */
export function shellQuote(argv: string[]): string {
  return argv
    .map((arg) => {
      if (typeof arg !== 'string') throw new TypeError('shellQuote: arguments must be strings');
      if (arg.includes('\0')) throw new UserError('A command argument contains a NUL byte.');
      if (SAFE.test(arg)) return arg;
      return `'${arg.replace(/'/g, `'\\''`)}'`;
    })
    .join(' ');
}

/** A command for messages: quoted, and shortened when long. */
export function displayCommand(argv: string[], max = 160): string {
  const s = shellQuote(argv);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
