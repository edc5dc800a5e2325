/**
 * Pinned host keys from an OpenSSH known_hosts file (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT").
 *
 * Lines: `[marker] hostpatterns keytype base64-key [comment]`, where hostpatterns is a
 * comma-separated list of names (`pi4-a`, `10.0.0.21`, `[10.0.0.21]:2222` for a port other
 * than 22), wildcards `*` `?`, negations `!pattern`, or one hashed name `|1|salt|hmac`
 * (HMAC-SHA1 keyed with the salt over the name, as written by `ssh-keygen -H` /
 * `HashKnownHosts yes`). Markers: `@revoked` (that key is refused for those hosts) and
 * `@cert-authority` (host certificates: not supported by ssh2, ignored here).
 */
import { createHash, createHmac } from 'node:crypto';

export interface PinnedKey {
  /** The key type named in the key blob itself, e.g. `ssh-ed25519`, `ssh-rsa`. */
  type: string;
  /** The public key blob (SSH wire format) — what ssh2's hostVerifier receives. */
  blob: Buffer;
  /** 1-based line number in the file. */
  line: number;
}

interface Entry extends PinnedKey {
  marker?: 'revoked' | 'cert-authority';
  patterns?: string[];
  hashed?: { salt: Buffer; hash: Buffer };
}

export interface KnownHosts {
  entries: Entry[];
  /** Lines that could not be used, with why (never the key material). */
  skipped: { line: number; reason: string }[];
}

const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  'ssh-dss',
]);

/** The first string of an SSH public key blob: its type. */
export function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's fingerprint: `SHA256:` + unpadded base64 of the SHA-256 of the key blob. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function parseKnownHosts(text: string): KnownHosts {
  const entries: Entry[] = [];
  const skipped: KnownHosts['skipped'] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/[ \t]+/);
    let marker: Entry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else {
        skipped.push({ line, reason: `unknown marker ${m}` });
        return;
      }
    }
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64) {
      skipped.push({ line, reason: 'expected: hosts keytype key' });
      return;
    }
    if (!KEY_TYPES.has(type)) {
      skipped.push({ line, reason: `unsupported key type ${type}` });
      return;
    }
    const blob = Buffer.from(b64, 'base64');
    if (blobType(blob) !== type) {
      skipped.push({ line, reason: `the key is not a valid ${type} key` });
      return;
    }
    const entry: Entry = { type, blob, line, ...(marker ? { marker } : {}) };
    if (hosts.startsWith('|1|')) {
      const [, , salt, hash] = hosts.split('|');
      if (!salt || !hash) {
        skipped.push({ line, reason: 'malformed hashed host name' });
        return;
      }
      entry.hashed = { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
    } else {
      entry.patterns = hosts.split(',').filter(Boolean);
    }
    entries.push(entry);
  });
  return { entries, skipped };
}

/** The name known_hosts uses for a host and port: `host` for 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(name);
}

/** OpenSSH's match_hostname: any positive pattern matches and no negated one does. */
function patternsMatch(patterns: string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

function entryMatches(e: Entry, name: string): boolean {
  if (e.hashed) {
    const h = createHmac('sha1', e.hashed.salt).update(name).digest();
    return h.length === e.hashed.hash.length && h.equals(e.hashed.hash);
  }
  return patternsMatch(e.patterns ?? [], name);
}

/** The keys pinned for host:port, and the keys revoked for it. */
export function keysFor(
  kh: KnownHosts,
  host: string,
  port: number,
): { pinned: PinnedKey[]; revoked: PinnedKey[] } {
  const name = knownHostsName(host, port);
  const pinned: PinnedKey[] = [];
  const revoked: PinnedKey[] = [];
  for (const e of kh.entries) {
    if (e.marker === 'cert-authority' || !entryMatches(e, name)) continue;
    const key = { type: e.type, blob: e.blob, line: e.line };
    (e.marker === 'revoked' ? revoked : pinned).push(key);
  }
  return { pinned, revoked };
}

/** ssh2's host key algorithms, in its preference order, for each known_hosts key type. */
const ALGORITHMS: [type: string, algorithms: string[]][] = [
  ['ssh-ed25519', ['ssh-ed25519']],
  ['ecdsa-sha2-nistp256', ['ecdsa-sha2-nistp256']],
  ['ecdsa-sha2-nistp384', ['ecdsa-sha2-nistp384']],
  ['ecdsa-sha2-nistp521', ['ecdsa-sha2-nistp521']],
  ['ssh-rsa', ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']],
  ['ssh-dss', ['ssh-dss']],
];

/**
 * The host key algorithms to offer: only those of the pinned keys (like OpenSSH's client
 * does), so a server with several host keys presents the one we pinned, not another one that
 * would look like a mismatch.
 */
export function hostKeyAlgorithms(pinned: PinnedKey[]): string[] {
  const types = new Set(pinned.map((k) => k.type));
  return ALGORITHMS.filter(([t]) => types.has(t)).flatMap(([, algs]) => algs);
}
