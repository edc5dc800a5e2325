import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { redactUrlCredentials } from '../../src/core/redact.js';

describe('credentials in URLs', () => {
  it('hides passwords and token-like user parts, keeps plain user names', () => {
    expect(redactUrlCredentials('https://bot:ghp_xyz@github.com/me/lab.git')).toBe(
      'https://bot:[redacted]@github.com/me/lab.git',
    );
    expect(
      redactUrlCredentials("fatal: unable to access 'https://ghp_0123456789abcdef@github.com/'"),
    ).toBe("fatal: unable to access 'https://[redacted]@github.com/'");
    expect(redactUrlCredentials('ssh://git@git.lab.example:2222/lab.git')).toBe(
      'ssh://git@git.lab.example:2222/lab.git',
    );
    expect(redactUrlCredentials('git@github.com:me/lab.git and /srv/lab.git')).toBe(
      'git@github.com:me/lab.git and /srv/lab.git',
    );
  });

  it('never reach a log line, in whatever field they are', () => {
    let out = '';
    const destination = new Writable({
      write(chunk, _e, cb) {
        out += chunk;
        cb();
      },
    });
    const log = createLogger({ destination });
    log.warn(
      { detail: "fatal: could not read from 'https://me:s3cr3t-t0ken@git.lab.example/lab.git'" },
      'push failed for https://me:s3cr3t-t0ken@git.lab.example/lab.git',
    );
    log.flush();
    expect(out).toContain('https://me:[redacted]@git.lab.example/lab.git');
    expect(out).not.toContain('s3cr3t-t0ken');
  });
});
