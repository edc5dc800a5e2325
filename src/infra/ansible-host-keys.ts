/**
 * Why Ansible could not reach a host, when the reason is its host key.
 *
 * Ansible does not always pass ssh's own message on. With pipelining it writes the module to
 * ssh's stdin while ssh is still verifying the host key; when ssh gives up on a refused key in
 * the middle of that write, Ansible reports its own `Data could not be sent to remote host "…".
 * Make sure this host can be reached over ssh: [Errno 32] Broken pipe`
 * (plugins/connection/ssh.py, `_send_initial_data`) and ssh's "REMOTE HOST IDENTIFICATION HAS
 * CHANGED" is lost: the user would read "unreachable" and nothing about the key.
 *
 * So every host Ansible reports unreachable is probed with the bot's own SSH
 * (`SshPool.reachable`: a handshake checked against the same pinned known_hosts, refused
 * before any login when the key differs). A key that does not match, or no key pinned at all,
 * replaces Ansible's message with the bot's own explanation — the node, the keys, the pinned
 * file, what to do — whichever message Ansible printed. Anything else (the host is down, or it
 * answers with its pinned key) leaves Ansible's message as it is.
 */
import type { NodeConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { PlaybookResult } from './ansible-process.js';
import { HostKeyMismatchError, type SshTarget, UnknownHostError } from './ssh-errors.js';

/** What the probe needs of the bot's SSH (SshPool). */
export interface HostKeyProbe {
  /** Throws HostKeyMismatchError / UnknownHostError when the host key is not the pinned one. */
  reachable(node: SshTarget, timeoutMs?: number): Promise<boolean>;
}

/** Per host; the hosts are probed side by side. */
export const HOST_KEY_PROBE_TIMEOUT_MS = 5_000;

/**
 * Rewrites, in `result`, the message of each unreachable host whose host key the bot's own SSH
 * refuses (see above). Never throws: a probe that fails otherwise leaves the message as it is.
 */
export async function explainUnreachable(
  result: PlaybookResult,
  nodes: readonly NodeConfig[],
  probe: HostKeyProbe,
  log: Logger,
  timeoutMs = HOST_KEY_PROBE_TIMEOUT_MS,
): Promise<void> {
  const hosts = [...new Set(result.failures.filter((f) => f.unreachable).map((f) => f.host))];
  await Promise.all(
    hosts.map(async (host) => {
      const node = nodes.find((n) => n.name === host);
      if (!node) return;
      const explanation = await refusedKey(probe, node, timeoutMs, log);
      if (!explanation) return;
      for (const f of result.failures) {
        if (f.host !== host || !f.unreachable) continue;
        log.warn(
          { host, ansible: f.message },
          'Ansible reported the host unreachable; the bot’s own SSH refuses its host key',
        );
        f.message = explanation;
      }
    }),
  );
}

/** The bot's explanation when `node`'s host key is refused; undefined otherwise. */
async function refusedKey(
  probe: HostKeyProbe,
  node: NodeConfig,
  timeoutMs: number,
  log: Logger,
): Promise<string | undefined> {
  const target = { name: node.name, host: node.host, port: node.port, user: node.user };
  try {
    await probe.reachable(target, timeoutMs);
    return undefined;
  } catch (err) {
    if (err instanceof HostKeyMismatchError || err instanceof UnknownHostError)
      return [err.message, err.hint].filter(Boolean).join('\n');
    log.debug({ err, host: node.name }, 'host key probe after an unreachable host failed');
    return undefined;
  }
}
