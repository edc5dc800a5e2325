import type { Config } from '../../src/config/schema.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { AccessPolicy } from '../../src/core/access.js';
import type { AuditEntry } from '../../src/core/audit.js';
import type { Command } from '../../src/core/command.js';
import { Dispatcher, type Responder } from '../../src/core/dispatcher.js';
import { Inventory } from '../../src/core/inventory.js';
import type { ChatUser, Conversation } from '../../src/core/invocation.js';
import { silentLogger } from '../../src/core/logger.js';
import { Registry } from '../../src/core/registry.js';
import type { Reply } from '../../src/core/reply.js';

/** What a chat user would see for one invocation: messages (edits replace), progress and steps. */
export class RecordingResponder implements Responder {
  readonly sent: { reply: Reply; ephemeral: boolean }[] = [];
  readonly progressed: Reply[] = [];
  readonly steps: string[] = [];
  async send(reply: Reply, opts?: { ephemeral?: boolean }): Promise<void> {
    this.sent.push({ reply, ephemeral: opts?.ephemeral ?? false });
  }
  async progress(reply: Reply): Promise<void> {
    this.progressed.push(reply);
  }
  async step(line: string): Promise<void> {
    this.steps.push(line);
  }
  last(): Reply {
    const last = this.sent.at(-1);
    if (!last) throw new Error('nothing was sent');
    return last.reply;
  }
}

export const here: Conversation = { platform: 'discord', id: 'chan-1' };
export const alice: ChatUser = { platform: 'discord', id: '111', displayName: 'alice' };
export const bob: ChatUser = { platform: 'discord', id: '222', displayName: 'bob' };
export const mallory: ChatUser = { platform: 'discord', id: '666', displayName: 'mallory' };

export function makeDispatcher(
  commands: Command[],
  overrides: Partial<Config> = {},
  now?: () => number,
) {
  const config = ConfigSchema.parse({
    access: { roles: { ops: { members: ['discord:111', 'discord:222'], allow: ['*'] } } },
  });
  const audit: AuditEntry[] = [];
  const registry = new Registry(commands);
  const dispatcher = new Dispatcher({
    registry,
    access: new AccessPolicy(overrides.access ?? config.access),
    config: { ...config, ...overrides },
    inventory: new Inventory([]),
    services: {
      commands: () => registry.list(),
      tasks: () => Promise.reject(new Error('no task store in core tests')),
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
    audit: { write: (e) => audit.push(e) },
    log: silentLogger(),
    now,
  });
  return { dispatcher, audit };
}
