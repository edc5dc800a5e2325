import { resolve } from 'node:path';

/**
 * The task repo's remote: how it is written in the clone, whether two spellings name the
 * same repo. A URL may carry credentials (`https://user:token@git.example/lab.git`): they
 * never go into a message or log line (redactUrlCredentials, core/redact.ts).
 */

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const SCP_LIKE = /^[^/\\]+@[^/\\]+:/;

/** Local paths are made absolute; URLs and `user@host:path` are kept as they are. */
export function normalizeRepo(repo: string): string {
  return URL_SCHEME.test(repo) || SCP_LIKE.test(repo) ? repo : resolve(repo);
}

/** A local path (not a URL, not `host:path`): the remote is a directory on this machine. */
export function isLocalRepo(repo: string): boolean {
  return !URL_SCHEME.test(repo) && !SCP_LIKE.test(repo) && !/^[^/\\]+:/.test(repo);
}

/**
 * Whether two remotes name the same repo: credentials, letter case of scheme and host, a
 * trailing `/` and `.git` do not count (a rotated token is the same repo).
 */
export function sameRemote(a: string, b: string): boolean {
  return remoteKey(a) === remoteKey(b);
}

function remoteKey(repo: string): string {
  const r = normalizeRepo(repo.trim());
  if (isLocalRepo(r)) return r.replace(/\/+$/, '');
  const url = /^([a-z][a-z0-9+.-]*:\/\/)(?:[^/@]*@)?([^/]*)(.*)$/i.exec(r);
  const key = url
    ? `${url[1]!.toLowerCase()}${url[2]!.toLowerCase()}${url[3]}`
    : r.replace(/^[^@/]+@/, '');
  return key.replace(/\/+$/, '').replace(/\.git$/, '');
}
