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

  it('never loads a development dependency (discord.js and matrix-bot-sdk are only for the fakes’ tests)', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const dev = Object.keys(pkg.devDependencies).filter((d) => !d.startsWith('@types/'));
    expect(dev).toEqual(expect.arrayContaining(['discord.js', 'matrix-bot-sdk']));
    const offenders = [...files('src'), ...files('commands')].flatMap((f) => {
      const text = readFileSync(path.join(root, f), 'utf8');
      return [...text.matchAll(/(?:from|import\(|require\()\s*['"]([^'"]+)['"]/g)]
        .map((m) => m[1]!)
        .filter((spec) => dev.some((d) => spec === d || spec.startsWith(`${d}/`)))
        .map((spec) => `${f} imports ${spec}`);
    });
    expect(offenders).toEqual([]);
  });

  it('speaks HTTP through node:http, not the global fetch (undici: ~16 MB more on Node 24)', () => {
    const offenders = [...files('src'), ...files('commands')].filter((f) =>
      /(?:await|return|=|\(|\?\?)\s*fetch\s*[()]/.test(readFileSync(path.join(root, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('loads the heavy libraries only when first used, never at start (idle memory)', () => {
    // What src/main.ts reaches through static imports (`import type` is erased; with
    // verbatimModuleSyntax `import { type X }` is not, so it counts).
    const reached = new Map<string, string>(); // package → the file that imports it
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(path.join(root, file), 'utf8');
      const specs = [
        ...text.matchAll(/^(?:import|export)(?!\s+type\b)[^;'"]*?from\s+['"]([^'"]+)['"]/gms),
        ...text.matchAll(/^import\s+['"]([^'"]+)['"]/gm),
      ].map((m) => m[1]!);
      for (const spec of specs) {
        if (spec.startsWith('.')) {
          visit(
            path.relative(
              root,
              path.resolve(root, path.dirname(file), spec.replace(/\.js$/, '.ts')),
            ),
          );
        } else if (!spec.startsWith('node:')) {
          const pkg = spec.startsWith('@')
            ? spec.split('/').slice(0, 2).join('/')
            : spec.split('/')[0]!;
          if (!reached.has(pkg)) reached.set(pkg, file);
        }
      }
    };
    visit('src/main.ts');
    expect(seen.size).toBeGreaterThan(50); // the walk did follow the imports
    expect(reached.has('zod')).toBe(true);
    const lazy = ['@kubernetes/client-node', 'node-ssh', 'ssh2', 'ws', '@resvg/resvg-js'];
    expect(lazy.filter((p) => reached.has(p)).map((p) => `${p} (from ${reached.get(p)})`)).toEqual(
      [],
    );
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
