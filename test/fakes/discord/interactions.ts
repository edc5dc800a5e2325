/**
 * Builds INTERACTION_CREATE payloads the way Discord does when a user runs a slash command,
 * types into an autocompleted option, or presses a button — checking first that a real user
 * could do it (command registered, option exists with that type, button present and enabled).
 */
import { randomBytes } from 'node:crypto';
import {
  type AutocompleteInput,
  checkOptions,
  commandSchema,
  type SlashCommandInput,
} from './command-schema.js';
import { ALL_PERMISSIONS, type Payloads } from './payloads.js';
import type { StoredChannel, StoredInteraction, StoredMessage, StoredUser } from './records.js';
import type { FakeState } from './state.js';
import { asArray, isObject, type Json, type JsonObject, snowflake } from './util.js';

export interface ComponentInput {
  user: string;
  messageId: string;
  customId: string;
}

export class InteractionFactory {
  constructor(
    private readonly s: FakeState,
    private readonly p: Payloads,
    private readonly strict: boolean,
  ) {}

  resolveUser(ref: string): StoredUser {
    const u = this.s.users.get(ref) ?? [...this.s.users.values()].find((x) => x.username === ref);
    if (!u)
      throw new Error(
        `FakeDiscord: unknown user "${ref}" (known: ${[...this.s.users.values()].map((x) => `${x.username}=${x.id}`).join(', ')})`,
      );
    return u;
  }

  private defaultChannel(id?: string): StoredChannel {
    const c = id
      ? this.s.channels.get(id)
      : [...this.s.channels.values()].find((x) => x.type === 0);
    if (!c) throw new Error(`FakeDiscord: unknown channel ${id ?? '(no text channel)'}`);
    return c;
  }

  private resolved(options: JsonObject[]): JsonObject | undefined {
    const users: JsonObject = {};
    const members: JsonObject = {};
    const channels: JsonObject = {};
    const roles: JsonObject = {};
    for (const o of options) {
      const id = String(o.value);
      const u = this.s.users.get(id);
      const c = this.s.channels.get(id);
      const r = this.s.roles.get(id);
      if ((o.type === 6 || o.type === 9) && u) {
        users[id] = this.p.user(u);
        const { user: _user, deaf: _d, mute: _m, ...partial } = this.p.member(u, true);
        members[id] = partial;
      }
      if (o.type === 7 && c) channels[id] = { ...this.p.channel(c), permissions: ALL_PERMISSIONS };
      if ((o.type === 8 || o.type === 9) && r) roles[id] = this.p.role(r);
    }
    const out: JsonObject = {};
    for (const [k, v] of Object.entries({ users, members, channels, roles }))
      if (Object.keys(v).length) out[k] = v;
    return Object.keys(out).length ? out : undefined;
  }

  private nest(input: SlashCommandInput, leaf: JsonObject[]): JsonObject[] {
    if (!input.subcommand) return leaf;
    const sub: JsonObject = { type: 1, name: input.subcommand, options: leaf };
    return input.subcommandGroup
      ? [{ type: 2, name: input.subcommandGroup, options: [sub] }]
      : [sub];
  }

  private base(
    type: number,
    user: StoredUser,
    channel: StoredChannel,
    data: JsonObject,
  ): StoredInteraction {
    const id = snowflake();
    const token = `fake.${randomBytes(48).toString('base64url')}`;
    const member = this.p.member(user, true);
    const payload: JsonObject = {
      id,
      application_id: this.s.appId,
      type,
      data,
      guild_id: this.s.guildId,
      guild: { id: this.s.guildId, locale: 'en-US', features: [] },
      channel_id: channel.id,
      channel: { ...this.p.channel(channel), permissions: ALL_PERMISSIONS },
      member,
      token,
      version: 1,
      app_permissions: ALL_PERMISSIONS,
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': this.s.guildId },
      context: 0,
      attachment_size_limit: this.s.maxUploadBytes,
    };
    return {
      id,
      token,
      type,
      userId: user.id,
      channelId: channel.id,
      name: null,
      customId: null,
      sourceMessageId: null,
      payload,
      sentAt: 0,
      deadline: 0,
      tokenExpiresAt: 0,
      response: null,
      lateAnswers: [],
      originalMessageId: null,
      followUpIds: [],
      choices: null,
      onAnswer: [],
    };
  }

  slashCommand(input: SlashCommandInput): StoredInteraction {
    const user = this.resolveUser(input.user);
    const channel = this.defaultChannel(input.channelId);
    const { id, options: schema } = commandSchema(this.s, input, this.strict);
    const label = `/${[input.name, input.subcommandGroup, input.subcommand].filter(Boolean).join(' ')}`;
    const leaf = checkOptions(this.strict, schema, input.options ?? [], false, label);
    const data: JsonObject = {
      id,
      name: input.name,
      type: 1,
      guild_id: this.s.guildId,
      options: this.nest(input, leaf),
    };
    const resolved = this.resolved(leaf);
    if (resolved) data.resolved = resolved;
    const i = this.base(2, user, channel, data);
    i.name = label.slice(1);
    return i;
  }

  autocomplete(input: AutocompleteInput): StoredInteraction {
    const user = this.resolveUser(input.user);
    const channel = this.defaultChannel(input.channelId);
    const { id, options: schema } = commandSchema(this.s, input, this.strict);
    const label = `/${[input.name, input.subcommandGroup, input.subcommand].filter(Boolean).join(' ')}`;
    const def = schema.find((d) => d.name === input.focused.name);
    if (this.strict && def?.autocomplete !== true) {
      throw new Error(
        `FakeDiscord: option "${input.focused.name}" of ${label} has no autocomplete`,
      );
    }
    const leaf = checkOptions(this.strict, schema, input.options ?? [], true, label);
    const focused: JsonObject = {
      type: typeof def?.type === 'number' ? def.type : 3,
      name: input.focused.name,
      value: input.focused.value,
      focused: true,
    };
    const data: JsonObject = {
      id,
      name: input.name,
      type: 1,
      guild_id: this.s.guildId,
      options: this.nest(input, [...leaf, focused]),
    };
    const i = this.base(4, user, channel, data);
    i.name = label.slice(1);
    return i;
  }

  component(input: ComponentInput, values?: string[]): StoredInteraction {
    const user = this.resolveUser(input.user);
    const m = this.s.messages.get(input.messageId);
    if (!m || !this.s.visibleTo(m, user.id)) {
      throw new Error(`FakeDiscord: message ${input.messageId} is not visible to ${user.username}`);
    }
    const comp = findComponent(m, input.customId);
    const wantSelect = values !== undefined;
    if (!comp || (wantSelect ? comp.type === 2 : comp.type !== 2)) {
      throw new Error(
        `FakeDiscord: message ${m.id} has no ${wantSelect ? 'select menu' : 'button'} "${input.customId}"`,
      );
    }
    if (comp.disabled === true)
      throw new Error(`FakeDiscord: component "${input.customId}" is disabled`);
    const data: JsonObject = { custom_id: input.customId, component_type: Number(comp.type) };
    if (wantSelect) {
      const allowed = asArray(comp.options).map((o) => o.value);
      const bad = values.filter((v) => comp.type === 3 && !allowed.includes(v));
      if (bad.length)
        throw new Error(
          `FakeDiscord: ${bad.join(', ')} not among the options of "${input.customId}"`,
        );
      data.values = values as Json;
    }
    const i = this.base(3, user, this.s.channel(m.channelId), data);
    i.customId = input.customId;
    i.sourceMessageId = m.id;
    i.payload.message = this.p.message(m);
    return i;
  }
}

export function findComponent(m: StoredMessage, customId: string): JsonObject | undefined {
  const stack: JsonObject[] = [...m.components];
  while (stack.length) {
    const c = stack.shift()!;
    if (c.custom_id === customId) return c;
    stack.push(...asArray(c.components));
    if (isObject(c.accessory)) stack.push(c.accessory);
  }
  return undefined;
}
