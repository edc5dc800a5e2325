import { readFile, rename, writeFile } from 'node:fs/promises';

/**
 * The highest task id the repo ever had, from Git history, so a dropped id is never given
 * out again (schema.yaml: "taken once over all files, never reused") — also in a fresh
 * clone of an old repo, and for ids added and dropped by hand or by another bot.
 *
 * It reads the `+ … id: T-0042` lines of `git log -p` over the task directory. A full scan
 * (first use in a clone) takes about 1.5 s for 3,000 commits that each add a task to one
 * growing file; after that only the commits since the last scanned remote head are read,
 * from a small cache in the clone's git dir (`chatops-id-history.json`).
 */

type Run = (args: string[]) => Promise<string>;

interface Cache {
  rev: string;
  max: number;
}

const ADDED_ID = /^\+(?!\+\+).*?\bid:\s*["']?T-(\d+)/gm;

/** The highest id number on the added lines of a `git log -p` output. */
export function highestAddedId(patch: string): number {
  let max = 0;
  for (const m of patch.matchAll(ADDED_ID)) max = Math.max(max, Number(m[1]));
  return max;
}

export class IdHistory {
  private cache: Cache | undefined;
  private loaded = false;

  constructor(
    private readonly run: Run,
    private readonly cacheFile: string,
    private readonly taskPath: string,
  ) {}

  /**
   * The highest id in any commit reachable from `rev` (the remote head), or ever seen on
   * an earlier remote head (so it never goes down, even if history was rewritten).
   */
  async highestOn(rev: string): Promise<number> {
    const sha = await this.run(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
    const cache = await this.load();
    if (cache?.rev === sha) return cache.max;
    let max = cache?.max ?? 0;
    if (cache) {
      const since = await this.scan(`${cache.rev}..${sha}`).catch(() => undefined);
      max = Math.max(max, since ?? (await this.scan(sha)));
    } else {
      max = await this.scan(sha);
    }
    await this.save({ rev: sha, max });
    return max;
  }

  /** The highest id added by the commits in `from..to` (the local, unpushed ones); no cache. */
  highestBetween(from: string, to: string): Promise<number> {
    return this.scan(`${from}..${to}`);
  }

  private async scan(range: string): Promise<number> {
    const patch = await this.run([
      'log',
      '-p',
      '-U0',
      '--full-history',
      '--no-renames',
      '--no-ext-diff',
      '--no-textconv',
      '--format=',
      range,
      '--',
      this.taskPath,
    ]);
    return highestAddedId(patch);
  }

  private async load(): Promise<Cache | undefined> {
    if (this.loaded) return this.cache;
    this.loaded = true;
    try {
      const c = JSON.parse(await readFile(this.cacheFile, 'utf8')) as Partial<Cache>;
      if (typeof c.rev === 'string' && typeof c.max === 'number') this.cache = c as Cache;
    } catch {
      this.cache = undefined;
    }
    return this.cache;
  }

  private async save(cache: Cache): Promise<void> {
    this.cache = cache;
    const tmp = `${this.cacheFile}.tmp`;
    await writeFile(tmp, `${JSON.stringify(cache)}\n`);
    await rename(tmp, this.cacheFile);
  }
}
