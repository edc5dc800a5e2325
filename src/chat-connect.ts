import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatAdapter } from './chat/adapter.js';
import { UserError } from './core/errors.js';
import type { Logger } from './core/logger.js';

export interface ConnectOptions {
  log: Logger;
  /** First wait before trying again (doubles up to a minute); 1 s unless set. */
  firstDelayMs?: number;
  /** The bot is stopping: no more attempts. */
  signal: AbortSignal;
  /** What start-up waits for now, shown by /readyz (e.g. "matrix (attempt 2)"). */
  waiting: (reason: string) => void;
}

/** A chat server's refusal that retrying cannot fix (a revoked or wrong token). */
function refusedCredentials(err: unknown): boolean {
  const e = err as {
    code?: unknown;
    status?: unknown;
    statusCode?: unknown;
    errcode?: unknown;
    closeCode?: unknown;
  };
  return (
    // Discord's gateway: 4004 Authentication failed.
    e?.closeCode === 4004 ||
    e?.status === 401 ||
    e?.statusCode === 401 ||
    e?.statusCode === 403 ||
    e?.errcode === 'M_UNKNOWN_TOKEN' ||
    e?.errcode === 'M_MISSING_TOKEN'
  );
}

function errorText(err: unknown): string {
  const e = err as { message?: string; code?: string; errcode?: string };
  return e?.message || e?.errcode || e?.code || String(err);
}

/**
 * Starts an adapter; a chat server that cannot be reached is tried again (1 s, 2 s, … up to a
 * minute, each attempt logged, /readyz 503 meanwhile) until it answers or the bot stops, so a
 * lab that boots the bot before its homeserver needs no manual restart. Webhooks taken
 * meanwhile wait in the outbox. Credentials the server refuses stop the start (UserError).
 */
export async function connectChat(adapter: ChatAdapter, opts: ConnectOptions): Promise<void> {
  const { log, signal } = opts;
  let delay = opts.firstDelayMs ?? 1000;
  for (let attempt = 1; ; attempt++) {
    opts.waiting(`${adapter.name} (attempt ${attempt})`);
    try {
      await adapter.start();
      if (attempt > 1) log.info({ adapter: adapter.name, attempt }, 'chat connected');
      return;
    } catch (err) {
      if (err instanceof UserError) throw err;
      if (refusedCredentials(err)) {
        throw new UserError(
          `${adapter.name} refused the bot's credentials (${errorText(err)}).`,
          `Check the ${adapter.name === 'discord' ? 'bot token (chat.discord.token, CHATOPS_DISCORD_TOKEN)' : 'access token (chat.matrix.accessToken, CHATOPS_MATRIX_TOKEN)'}: retrying cannot fix it.`,
        );
      }
      if (signal.aborted) throw err;
      opts.waiting(
        `${adapter.name} (attempt ${attempt} failed: ${errorText(err)}; next in ${Math.round(delay / 1000)} s)`,
      );
      log.warn(
        { adapter: adapter.name, attempt, retryInMs: delay, err: errorText(err) },
        `${adapter.name} cannot be reached; trying again`,
      );
      await adapter.stop().catch(() => undefined);
      await sleep(delay, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) throw new Error(`stopped while connecting to ${adapter.name}`);
      delay = Math.min(delay * 2, 60_000);
    }
  }
}
