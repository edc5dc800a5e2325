import { type Logger, pino } from 'pino';
import { redactUrlCredentials } from './redact.js';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Where JSON log lines go; stderr by default so stdout stays for the console chat. */
  destination?: NodeJS.WritableStream;
}

/** Paths that must never reach a log line, wherever they appear in a logged object. */
export const REDACT_PATHS = [
  '*.token',
  '*.password',
  '*.accessToken',
  '*.appPassword',
  '*.secret',
  'config.*.token',
  'headers.authorization',
  'req.headers.authorization',
];

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { app: 'homelab-chatops' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Credentials in URLs (a tasks.repo with a token, git's error messages) in any field.
      hooks: { streamWrite: redactUrlCredentials },
    },
    (opts.destination ?? pino.destination({ dest: 2, sync: false })) as pino.DestinationStream,
  );
}

/** A logger that drops everything: for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
