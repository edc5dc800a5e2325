#!/usr/bin/env node
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { App } from './app.js';
import { checkConfigFiles, checkStateDir } from './config/check-files.js';
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
CHATOPS_DISCORD_TOKEN[_FILE], CHATOPS_MATRIX_TOKEN[_FILE], CHATOPS_ALERT_TOKEN[_FILE].
Every key and variable: docs/configuration.md.`;

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

  // What the config names on disk, and the state dir, before anything listens.
  const problems = [...checkStateDir(config.state.dir), ...checkConfigFiles(config)];
  if (problems.length > 0) {
    process.stderr.write(`${new ConfigError(loaded.source, problems).format()}\n`);
    return 2;
  }

  const log = createLogger({ level: config.log.level });
  log.info({ source: loaded.source }, 'configuration loaded');
  const consoleName = config.chat.console.user ?? userInfo().username;
  let app: App;
  try {
    app = await App.create({
      config,
      log,
      configSource: loaded.source,
      console: {
        user: { platform: 'console', id: consoleName, displayName: consoleName },
        input: process.stdin,
        output: process.stdout,
        interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
      },
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.format()}\n`);
    return 2;
  }

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

  // A start that fails stops everything it started and exits non-zero: never a process that
  // answers /healthz while it delivers nothing. (A chat server that is merely down is retried
  // inside start(), with /readyz 503 meanwhile.)
  try {
    await app.start();
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`Cannot start: ${err.message}\n${err.hint ?? ''}\n`);
    } else {
      log.error({ err }, 'start failed');
      process.stderr.write(
        `homelab-chatops could not start: ${(err as Error)?.message ?? String(err)}\nThe log above has the details.\n`,
      );
    }
    await stop('start failed');
    return err instanceof UserError ? 2 : 1;
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
    // A failed start may leave sockets or timers of a half-connected client: do not linger.
    if (code !== 0) setTimeout(() => process.exit(code), 100).unref();
  },
  (err: unknown) => {
    process.stderr.write(
      `homelab-chatops failed to start: ${(err as Error)?.stack ?? String(err)}\n`,
    );
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
  },
);
