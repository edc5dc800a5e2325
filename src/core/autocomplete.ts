import type { AutocompleteSource, OptionChoice } from './command.js';
import type { Inventory } from './inventory.js';
import type { Services } from './services.js';

/** Discord allows at most 25 choices per autocomplete answer. */
export const MAX_CHOICES = 25;

function byPrefix(values: readonly string[], partial: string): OptionChoice<string>[] {
  const p = partial.toLowerCase();
  const starts = values.filter((v) => v.toLowerCase().startsWith(p));
  const contains = values.filter(
    (v) => !v.toLowerCase().startsWith(p) && v.toLowerCase().includes(p),
  );
  return [...starts, ...contains].slice(0, MAX_CHOICES).map((v) => ({ name: v, value: v }));
}

/** Suggestions for an option's autocomplete source. Never throws: no suggestions instead. */
export async function suggest(
  source: AutocompleteSource,
  partial: string,
  deps: { inventory: Inventory; services: Services },
): Promise<OptionChoice<string>[]> {
  try {
    switch (source) {
      case 'nodes':
        return byPrefix(deps.inventory.names(), partial);
      case 'node-targets':
        return byPrefix([...deps.inventory.names(), ...deps.inventory.groups(), 'all'], partial);
      case 'commands':
        return byPrefix(
          deps.services.commands().map((c) => c.name),
          partial,
        );
      case 'tasks': {
        const store = await deps.services.tasks();
        return byPrefix(await store.ids(), partial.replace(/^#/, ''));
      }
      case 'argo-apps': {
        const argo = await deps.services.argo();
        return byPrefix(await argo.names(), partial);
      }
      case 'alert-groups': {
        const groups = deps.services.alerts()?.store.groups() ?? [];
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
