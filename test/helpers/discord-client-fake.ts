/**
 * The bot's own Discord client (src/chat/discord/discord-client.ts) against a fake Discord with
 * one channel and one user, below the adapter: what the client tests start with. Both are
 * stopped by `cleanup` (run in reverse order after each test); the client is not logged in yet.
 */
import { DiscordClient } from '../../src/chat/discord/discord-client.js';
import type { Json } from '../../src/chat/discord/discord-gateway.js';
import { silentLogger } from '../../src/core/logger.js';
import { FakeDiscord } from '../fakes/discord/fake-discord.js';

export async function discordClientOnFake(
  cleanup: (() => Promise<void>)[],
  opts: { channel: string; user: string; heartbeatIntervalMs?: number },
): Promise<{ fake: FakeDiscord; client: DiscordClient; interactions: Json[] }> {
  const fake = await FakeDiscord.start({
    channels: [{ id: opts.channel, name: 'ops' }],
    users: [{ id: opts.user, username: 'alice' }],
    strictCommands: false,
    ...(opts.heartbeatIntervalMs ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}),
  });
  cleanup.push(() => fake.stop());
  const interactions: Json[] = [];
  const client = new DiscordClient({
    token: 'fake-token',
    api: `${fake.url}/api`,
    log: silentLogger(),
    onInteraction: (raw) => interactions.push(raw),
  });
  cleanup.push(() => client.destroy());
  return { fake, client, interactions };
}
