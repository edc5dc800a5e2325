import type { Config } from '../config/schema.js';
import type { AccessPolicy } from './access.js';
import {
  type AutocompleteSource,
  effectiveOptions,
  type OptionChoice,
  permissionId,
} from './command.js';
import type { Inventory } from './inventory.js';
import type { ChatUser } from './invocation.js';
import type { Registry } from './registry.js';
import type { Services } from './services.js';

/** Discord allows at most 25 choices per autocomplete answer. */
export const MAX_CHOICES = 25;

/**
 * How long a lookup may take. Discord drops an autocomplete answer that is not there 3 s after
 * the keystroke; gateway delivery and the answer's own request need the rest.
 */
export const LOOKUP_BUDGET_MS = 1500;

/** How long a fetched list (Argo CD apps) is served without asking again. */
export const LIST_TTL_MS = 30_000;

/** Sources whose suggestions reveal lab data; the rest (command names) are public anyway. */
export const DATA_SOURCES: ReadonlySet<AutocompleteSource> = new Set([
  'nodes',
  'node-targets',
  'tasks',
  'argo-apps',
  'longhorn-volumes',
  'alert-groups',
]);

function byPrefix(values: readonly string[], partial: string): OptionChoice<string>[] {
  const p = partial.toLowerCase();
  const starts = values.filter((v) => v.toLowerCase().startsWith(p));
  const contains = values.filter(
    (v) => !v.toLowerCase().startsWith(p) && v.toLowerCase().includes(p),
  );
  return [...starts, ...contains].slice(0, MAX_CHOICES).map((v) => ({ name: v, value: v }));
}

export interface SuggestDeps {
  inventory: Inventory;
  services: Services;
  /** For where Longhorn is (`longhorn.namespace`); its default without it. */
  config?: Pick<Config, 'longhorn'>;
}

export interface SuggestionsOptions {
  budgetMs?: number;
  ttlMs?: number;
  now?: () => number;
}

interface CachedList {
  values: string[];
  at: number;
}

/**
 * Suggestions for options' autocomplete sources, always within {@link LOOKUP_BUDGET_MS}:
 * in-memory sources answer at once; remote lists (Argo CD apps) are cached, refreshed in the
 * background (one request at a time) and, while a refresh is slow or failing, answered from the
 * last list or with nothing. Task ids come only from a task store that is already open: a
 * keystroke never starts the first clone of the task repo. Never throws.
 */
export class Suggestions {
  private readonly lists = new Map<string, CachedList>();
  private readonly refreshing = new Map<string, Promise<void>>();
  private readonly budgetMs: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly deps: SuggestDeps,
    opts: SuggestionsOptions = {},
  ) {
    this.budgetMs = opts.budgetMs ?? LOOKUP_BUDGET_MS;
    this.ttlMs = opts.ttlMs ?? LIST_TTL_MS;
    this.now = opts.now ?? Date.now;
  }

  async suggest(source: AutocompleteSource, partial: string): Promise<OptionChoice<string>[]> {
    try {
      const { inventory, services } = this.deps;
      switch (source) {
        case 'nodes':
          return byPrefix(inventory.names(), partial);
        case 'node-targets':
          return byPrefix([...inventory.names(), ...inventory.groups(), 'all'], partial);
        case 'commands':
          return byPrefix(
            services.commands().map((c) => c.name),
            partial,
          );
        case 'tasks': {
          const store = services.tasksIfOpen?.();
          if (!store) return [];
          const ids = await this.bounded(store.ids(partial.replace(/^#/, '')));
          return (ids ?? []).slice(0, MAX_CHOICES).map((id) => ({ name: id, value: id }));
        }
        case 'argo-apps':
          return byPrefix(
            await this.list('argo-apps', async () => (await services.argo()).names()),
            partial,
          );
        case 'longhorn-volumes':
          return byPrefix(
            await this.list('longhorn-volumes', async () => {
              const ops = await services.nodeOps();
              if (!ops.kube) return [];
              const { longhornFor } = await import('../infra/longhorn.js');
              const ns = this.deps.config?.longhorn.namespace ?? 'longhorn-system';
              return (await longhornFor(ops.kube, ns).volumes()).map((v) => v.name);
            }),
            partial,
          );
        case 'alert-groups': {
          const groups = services.alerts()?.store.groups() ?? [];
          const firing = groups.filter((g) => g.state.status === 'firing').map((g) => g.state.ref);
          return byPrefix(firing.reverse(), partial.toUpperCase());
        }
        default:
          return [];
      }
    } catch {
      return [];
    }
  }

  /** The cached list if fresh; otherwise a refresh, awaited only within the budget. */
  private async list(key: string, load: () => Promise<string[]>): Promise<string[]> {
    const cached = this.lists.get(key);
    if (cached && this.now() - cached.at < this.ttlMs) return cached.values;
    let refresh = this.refreshing.get(key);
    if (!refresh) {
      refresh = load()
        .then((values) => void this.lists.set(key, { values, at: this.now() }))
        .catch(() => {}) // a failed lookup keeps the last list; the next keystroke tries again
        .finally(() => this.refreshing.delete(key));
      this.refreshing.set(key, refresh);
    }
    await this.bounded(refresh);
    return this.lists.get(key)?.values ?? [];
  }

  /** `p`'s value, or undefined once the budget is spent (`p` goes on in the background). */
  private bounded<T>(p: Promise<T>): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.budgetMs);
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }
}

/** One-off suggestions (no cache kept between calls), bounded like {@link Suggestions}. */
export function suggest(
  source: AutocompleteSource,
  partial: string,
  deps: SuggestDeps,
): Promise<OptionChoice<string>[]> {
  return new Suggestions(deps).suggest(source, partial);
}

/** The option being typed: `/<command> [<sub>] <option>:<partial>`, by `user`. */
export interface OptionRequest {
  command: string;
  sub: string | undefined;
  option: string;
  partial: string;
  user: ChatUser;
}

export interface OptionAutocompleteDeps extends SuggestDeps {
  registry: Registry;
  access: AccessPolicy;
}

/**
 * Autocomplete for one option of an action (Discord): at most 25 choices, within the lookup
 * budget. Lab data (nodes, tasks, apps, alerts) only for a user who may read it there: the
 * action's permission checked as if it were read-only (open to all under `readOnly: open`
 * unless it needs a role; under `readOnly: roles` a role must allow it). Never throws.
 */
export class OptionAutocomplete {
  private readonly suggestions: Suggestions;

  constructor(private readonly deps: OptionAutocompleteDeps) {
    this.suggestions = new Suggestions(deps);
  }

  async choices(req: OptionRequest): Promise<OptionChoice<string>[]> {
    try {
      const { registry, access } = this.deps;
      const cmd = registry.command(req.command);
      const action = registry.action(cmd, req.sub);
      const opt = effectiveOptions(action).find((o) => o.name === req.option);
      if (!opt?.autocomplete) return [];
      const permission = permissionId(cmd.name, cmd.action ? undefined : action.name);
      if (
        DATA_SOURCES.has(opt.autocomplete) &&
        !access.check(req.user, permission, {
          sideEffects: false,
          needsRole: action.needsRole,
        }).allowed
      )
        return [];
      return await this.suggestions.suggest(opt.autocomplete, req.partial);
    } catch {
      return [];
    }
  }
}
