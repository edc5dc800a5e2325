#!/usr/bin/env node
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { App } from './app.js';
import { ConfigError, loadConfig, printConfig } from './config/load.js';
import { UserError } from './core/errors.js';
import { createLogger } from './core/logger.js';

const HELP = `homelab-chatops — ChatOps for a K3s home lab

Usage: homelab-chatops [--config FILE] [--print-config]

  --config FILE    YAML configuration (or CHATOPS_CONFIG). Without one: the built-in demo
                   (console chat, the seed lab's inventory, node actions as dry runs).
  --print-config   Print the effective configuration, secrets redacted, and exit.
  --help           This text.

Environment: CHATOPS_STATE_DIR, CHATOPS_HTTP_HOST, CHATOPS_HTTP_PORT, CHATOPS_LOG_LEVEL,
CHATOPS_DISCORD_TOKEN[_FILE], CHATOPS_MATRIX_TOKEN[_FILE]. See README.md.`;

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let flags: { config?: string; 'print-config'?: boolean; help?: boolean };
  try {
    flags = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        'print-config': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }

  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ file: flags.config, env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.format()}\n`);
      return 2;
    }
    throw err;
  }
  const { config } = loaded;
  if (flags['print-config']) {
    process.stdout.write(`# source: ${loaded.source}\n${printConfig(config)}`);
    return 0;
  }

  const log = createLogger({ level: config.log.level });
  log.info({ source: loaded.source }, 'configuration loaded');
  const consoleName = config.chat.console.user ?? userInfo().username;
  const app = await App.create({
    config,
    log,
    console: {
      user: { platform: 'console', id: consoleName, displayName: consoleName },
      input: process.stdin,
      output: process.stdout,
      interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
    },
  });

  let stopping: Promise<void> | undefined;
  const stop = (why: string) => {
    stopping ??= (async () => {
      log.info({ why }, 'stopping');
      await app.stop();
      log.flush();
    })();
    return stopping;
  };
  process.once('SIGTERM', () => void stop('SIGTERM').then(() => process.exit(0)));
  process.once('SIGINT', () => void stop('SIGINT').then(() => process.exit(0)));

  try {
    await app.start();
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    process.stderr.write(`Cannot start: ${err.message}\n${err.hint ?? ''}\n`);
    await app.stop();
    return 2;
  }
  const finished = app.finished;
  if (finished) {
    await finished;
    await stop('end of input');
    return 0;
  }
  return new Promise(() => {});
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `homelab-chatops failed to start: ${(err as Error)?.stack ?? String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
