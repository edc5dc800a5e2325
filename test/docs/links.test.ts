/**
 * Every relative link in README.md and docs/*.md leads somewhere on GitHub: to a file or
 * folder of the repository (tracked, or new and not ignored), and a `#anchor` to a heading of
 * the target (GitHub's slug of it).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorsOf, linksOf, slug } from './markdown.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PAGES = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
/** What GitHub would show: tracked files and new ones that are not ignored (dist/, .chatops/). */
const FILES = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
  cwd: ROOT,
  encoding: 'utf8',
})
  .split('\n')
  .filter(Boolean);

function exists(repoPath: string): boolean {
  const p = repoPath.replace(/\/$/, '');
  return p === '' || FILES.some((f) => f === p || f.startsWith(`${p}/`));
}

const read = (page: string) => readFileSync(path.join(ROOT, page), 'utf8');

/** Where each relative link of `page` goes wrong, as `page:line: target — why`. */
function brokenLinks(page: string): string[] {
  const broken: string[] = [];
  for (const { target, line } of linksOf(read(page))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [file = '', anchor] = target.split('#');
    const to =
      file === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
    const where = `${page}:${line}: ${target}`;
    if (to.startsWith('../') || path.posix.isAbsolute(to))
      broken.push(`${where} — outside the repository`);
    else if (!exists(to)) broken.push(`${where} — no such file`);
    else if (anchor !== undefined) {
      if (!to.endsWith('.md')) broken.push(`${where} — an anchor into a file that is not Markdown`);
      else if (!anchorsOf(read(to)).has(decodeURIComponent(anchor)))
        broken.push(`${where} — no heading "${anchor}" in ${to}`);
    }
  }
  return broken;
}

describe('links in README.md and docs/', () => {
  it('finds the pages and their links', () => {
    expect(PAGES).toContain('docs/configuration.md');
    expect(linksOf(read('README.md')).length).toBeGreaterThan(10);
  });

  it.each(PAGES)('%s: every relative link has its file and heading', (page) => {
    expect(brokenLinks(page)).toEqual([]);
  });

  it('makes anchors the way GitHub does', () => {
    expect(slug('K3s + Argo CD + SOPS/age: `deploy/`')).toBe('k3s--argo-cd--sopsage-deploy');
    expect(slug('Long operations: they survive the bot')).toBe(
      'long-operations-they-survive-the-bot',
    );
    expect(slug("Tasks: the lab's backlog in Git")).toBe('tasks-the-labs-backlog-in-git');
    expect([...anchorsOf('# A\n```\n# not a heading\n```\n## A\n### a_b\n')]).toEqual([
      'a',
      'a-1',
      'a_b',
    ]);
  });
});
