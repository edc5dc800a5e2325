import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

function files(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

const SDK = /from ['"](discord\.js|matrix-bot-sdk|@discordjs\/[^'"]+)['"]/;

describe('architecture', () => {
  it('keeps chat SDKs inside their adapters: nothing else imports discord.js or matrix-bot-sdk', () => {
    const offenders = [...files('src'), ...files('commands')].filter((f) => {
      if (
        f.startsWith('src/chat/discord/') ||
        f.startsWith('src/chat/matrix/') ||
        f === 'src/register-commands.ts'
      )
        return false;
      return SDK.test(readFileSync(path.join(root, f), 'utf8'));
    });
    expect(offenders).toEqual([]);
  });

  it('imports the Matrix SDK only for types outside its loader (the loader must stub crypto first)', () => {
    const offenders = files('src/chat/matrix').filter((f) => {
      if (f.endsWith('load-sdk.ts')) return false;
      return /^import (?!type)[^;]*from ['"]matrix-bot-sdk['"]/m.test(
        readFileSync(path.join(root, f), 'utf8'),
      );
    });
    expect(offenders).toEqual([]);
  });

  it('reads process.env only in the entry points (config comes through the loader)', () => {
    const offenders = [...files('src'), ...files('commands')].filter(
      (f) =>
        ![
          'src/main.ts',
          'src/register-commands.ts',
          // Hand the environment (PATH, HOME for ssh keys) on to git and ansible-playbook.
          'src/backlog/git.ts',
          'src/infra/ansible-process.ts',
        ].includes(f) && /process\.env/.test(readFileSync(path.join(root, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});
