import path from 'node:path';
import type { ChatAdapter } from './chat/adapter.js';
import type { Config } from './config/schema.js';
import type { AccessPolicy } from './core/access.js';
import type { Dispatcher } from './core/dispatcher.js';
import { UserError } from './core/errors.js';
import type { Logger } from './core/logger.js';
import type { Registry } from './core/registry.js';
import { setAsideIfCorruptJson } from './core/state-file.js';
import type { Metrics } from './http/metrics.js';

export interface ChatAdapterDeps {
  config: Config;
  dispatcher: Dispatcher;
  registry: Registry;
  access: AccessPolicy;
  metrics: Metrics;
  log: Logger;
}

/** The Discord adapter, not started yet; a missing token stops the start (UserError). */
export async function discordAdapter(
  discord: NonNullable<Config['chat']['discord']>,
  deps: ChatAdapterDeps,
): Promise<ChatAdapter> {
  if (!discord.token) {
    throw new UserError(
      'chat.discord.token is not set.',
      'Set CHATOPS_DISCORD_TOKEN or CHATOPS_DISCORD_TOKEN_FILE, or chat.discord.tokenFile in the config.',
    );
  }
  // Loaded only when configured: the Discord client and `ws` cost start-up time and memory.
  const { DiscordAdapter } = await import('./chat/discord/discord-adapter.js');
  return new DiscordAdapter({
    config: discord,
    dispatcher: deps.dispatcher,
    commands: () => deps.registry.list(),
    log: deps.log,
    apiUrl: discord.apiUrl,
  });
}

/** The Matrix adapter, not started yet; a missing token stops the start (UserError). */
export async function matrixAdapter(
  matrix: NonNullable<Config['chat']['matrix']>,
  deps: ChatAdapterDeps,
): Promise<ChatAdapter> {
  if (!matrix.accessToken) {
    throw new UserError(
      'chat.matrix.accessToken is not set.',
      'Set CHATOPS_MATRIX_TOKEN or CHATOPS_MATRIX_TOKEN_FILE, or chat.matrix.accessTokenFile in the config.',
    );
  }
  const stateDir = deps.config.state.dir;
  // The sync token file: a corrupt one would fail every start (the SDK cannot read it).
  setAsideIfCorruptJson(path.join(stateDir, 'matrix-sync.json'), deps.log);
  const { MatrixAdapter } = await import('./chat/matrix/matrix-adapter.js');
  return new MatrixAdapter({
    config: matrix,
    dispatcher: deps.dispatcher,
    access: deps.access,
    stateDir,
    log: deps.log,
    metricsRegistry: deps.metrics.registry,
  });
}
