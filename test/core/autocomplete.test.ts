import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { AccessPolicy } from '../../src/core/access.js';
import { Dispatcher } from '../../src/core/dispatcher.js';
import { Inventory } from '../../src/core/inventory.js';
import { silentLogger } from '../../src/core/logger.js';
import { loadCommands, Registry } from '../../src/core/registry.js';
import { alice } from '../helpers/dispatcher.js';

describe('autocomplete', async () => {
  const { config } = loadConfig({ env: {} });
  const registry = new Registry(await loadCommands());
  const dispatcher = new Dispatcher({
    registry,
    access: new AccessPolicy(config.access),
    config,
    inventory: new Inventory(config.inventory.nodes),
    services: {
      commands: () => registry.list(),
      tasks: () => Promise.reject(new Error('autocomplete must not open the task store')),
      tasksIfOpen: () =>
        ({
          ids: async (p: string) => ['T-0001', 'T-0002', 'T-0042'].filter((id) => id.endsWith(p)),
        }) as never,
      taskRepoLabel: () => 'test',
      alerts: () => undefined,
      nodeOps: () => Promise.reject(new Error('no node operations in core tests')),
      argo: () => Promise.reject(new Error('no argo in core tests')),
      pihole: () => {
        throw new Error('no pihole in core tests');
      },
      operations: () => {
        throw new Error('no operations in core tests');
      },
    },
    audit: { write: () => {} },
    log: silentLogger(),
  });

  it('suggests nodes by prefix, then by substring', async () => {
    expect(await dispatcher.autocomplete('node', 'reboot', 'node', 'pi4', alice)).toEqual([
      { name: 'pi4-a', value: 'pi4-a' },
      { name: 'pi4-b', value: 'pi4-b' },
    ]);
    expect(
      (await dispatcher.autocomplete('node', 'reboot', 'node', '', alice)).map((c) => c.value),
    ).toEqual(['x86', 'pi5', 'pi4-a', 'pi4-b', 'pi1', 'pi2', 'pi3']);
  });

  it('suggests task ids, matching a bare number', async () => {
    expect(await dispatcher.autocomplete('task', 'show', 'id', '42', alice)).toEqual([
      { name: 'T-0042', value: 'T-0042' },
    ]);
  });

  it('suggests command names for /help and nothing for options without a source', async () => {
    expect(await dispatcher.autocomplete('help', undefined, 'command', 'ta', alice)).toEqual([
      { name: 'task', value: 'task' },
    ]);
    expect(await dispatcher.autocomplete('task', 'add', 'title', 'x', alice)).toEqual([]);
    expect(await dispatcher.autocomplete('nope', undefined, 'x', '', alice)).toEqual([]);
  });
});
