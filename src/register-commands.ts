#!/usr/bin/env node
// npm run register-commands [-- --config FILE]: bulk-overwrites the bot's slash commands in
// every configured guild (guild commands update at once, unlike global ones).
import { parseArgs } from 'node:util';
import { DiscordRest } from './chat/discord/discord-rest.js';
import { slashCommands } from './chat/discord/slash-commands.js';
import { ConfigError, loadConfig } from './config/load.js';
import { loadCommands } from './core/registry.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } } });
  let config: ReturnType<typeof loadConfig>['config'];
  try {
    config = loadConfig({ file: values.config, env: process.env }).config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.format()}\n`);
      return 2;
    }
    throw err;
  }
  const discord = config.chat.discord;
  if (!discord?.token) {
    process.stderr.write(
      'chat.discord with a token is needed (CHATOPS_DISCORD_TOKEN or chat.discord.tokenFile).\n',
    );
    return 2;
  }
  const body = slashCommands(await loadCommands());
  const rest = new DiscordRest({ token: discord.token, api: discord.apiUrl });
  for (const guild of discord.guildIds) {
    await rest.put(`/applications/${discord.applicationId}/guilds/${guild}/commands`, { body });
    process.stdout.write(
      `registered ${body.length} commands (${body.map((c) => `/${c.name}`).join(', ')}) in guild ${guild}\n`,
    );
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`register-commands failed: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
