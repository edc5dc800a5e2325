/**
 * Autocomplete answers in time whatever its sources do (Discord drops an answer after 3 s), from
 * the last list it got when a source is slow, and reveals lab data only to users allowed to run
 * the action.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { AccessPolicy } from '../../src/core/access.js';
import { Suggestions } from '../../src/core/autocomplete.js';
import { Dispatcher } from '../../src/core/dispatcher.js';
import { Inventory } from '../../src/core/inventory.js';
import { silentLogger } from '../../src/core/logger.js';
import { loadCommands, Registry } from '../../src/core/registry.js';
import type { Services } from '../../src/core/services.js';
import { alice, bob } from '../helpers/dispatcher.js';

const never = new Promise<never>(() => {});

/** Services whose Argo CD answers the given way (a list, or hangs), counting the calls. */
function services(argoNames: () => Promise<string[]>) {
  const calls = { argo: 0, tasks: 0 };
  const s: Services = {
    commands: () => [],
    tasks: () => {
      calls.tasks++;
      return never;
    },
    taskRepoLabel: () => 'test',
    alerts: () => undefined,
    nodeOps: () => never,
    argo: async () => {
      calls.argo++;
      return { names: argoNames } as never;
    },
    pihole: () => {
      throw new Error('no pihole');
    },
    operations: () => {
      throw new Error('no operations');
    },
  };
  return { s, calls };
}

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await p;
  return { value, ms: Date.now() - t0 };
}

describe('autocomplete lookups are bounded and cached', () => {
  it('a hanging Argo CD API: nothing known yet → an empty list within the budget', async () => {
    const { s } = services(() => never);
    const sugg = new Suggestions({ inventory: new Inventory([]), services: s }, { budgetMs: 200 });
    const { value, ms } = await timed(sugg.suggest('argo-apps', ''));
    expect(value).toEqual([]);
    expect(ms).toBeLessThan(600);
  });

  it('a list that went stale is answered from the last one while the API hangs; one request at a time', async () => {
    let hang = false;
    let now = 0;
    const { s, calls } = services(() => (hang ? never : Promise.resolve(['paperless', 'pihole'])));
    const sugg = new Suggestions(
      { inventory: new Inventory([]), services: s },
      { budgetMs: 200, ttlMs: 1000, now: () => now },
    );
    expect((await sugg.suggest('argo-apps', 'pa')).map((c) => c.value)).toEqual(['paperless']);
    hang = true;
    now = 500; // fresh: no request
    expect((await sugg.suggest('argo-apps', 'pi')).map((c) => c.value)).toEqual(['pihole']);
    expect(calls.argo).toBe(1);
    now = 5000; // stale: a refresh starts, hangs, the old list answers
    const { value, ms } = await timed(sugg.suggest('argo-apps', ''));
    expect(value.map((c) => c.value)).toEqual(['paperless', 'pihole']);
    expect(ms).toBeLessThan(600);
    await sugg.suggest('argo-apps', '');
    expect(calls.argo).toBe(2); // the hanging refresh is shared, not repeated per keystroke
  });

  it('task ids only from an open store: a keystroke never starts the first clone', async () => {
    const { s, calls } = services(() => never);
    const sugg = new Suggestions({ inventory: new Inventory([]), services: s }, { budgetMs: 200 });
    expect(await sugg.suggest('tasks', '4')).toEqual([]);
    expect(calls.tasks).toBe(0);
  });
});

describe('autocomplete respects access', async () => {
  const registry = new Registry(await loadCommands());
  const config = ConfigSchema.parse({
    access: {
      readOnly: 'roles',
      roles: { ops: { members: [`discord:${alice.id}`], allow: ['node.*', 'help'] } },
    },
  });
  const inventory = new Inventory(loadConfig({ env: {} }).config.inventory.nodes);
  const dispatcher = new Dispatcher({
    registry,
    access: new AccessPolicy(config.access),
    config,
    inventory,
    services: { ...services(() => never).s, commands: () => registry.list() },
    audit: { write: () => {} },
    log: silentLogger(),
  });

  it('readOnly: roles — a user without a role gets no lab data, a member does', async () => {
    expect(await dispatcher.autocomplete('node', 'status', 'target', 'pi4', bob)).toEqual([]);
    expect(
      (await dispatcher.autocomplete('node', 'status', 'target', 'pi4', alice)).map((c) => c.value),
    ).toEqual(['pi4-a', 'pi4-b']);
  });

  it('command names are not lab data: /help still completes them', async () => {
    expect(await dispatcher.autocomplete('help', undefined, 'command', 'no', bob)).toEqual([
      { name: 'node', value: 'node' },
    ]);
  });
});
