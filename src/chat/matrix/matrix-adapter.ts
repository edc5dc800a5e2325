import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Counter, type Registry } from 'prom-client';
import type { Config } from '../../config/schema.js';
import type { AccessPolicy } from '../../core/access.js';
import type { Dispatcher } from '../../core/dispatcher.js';
import { UserError } from '../../core/errors.js';
import type { ChatUser } from '../../core/invocation.js';
import type { Logger } from '../../core/logger.js';
import type { ChatAdapter } from '../adapter.js';
import type { Publisher } from '../publisher.js';
import { MatrixClient } from './matrix-client.js';
import { MatrixPublisher } from './matrix-publisher.js';
import { MatrixResponder, sendWithRetry } from './matrix-responder.js';
import { renderMatrix } from './render.js';

export interface MatrixAdapterOptions {
  config: NonNullable<Config['chat']['matrix']>;
  dispatcher: Dispatcher;
  access: AccessPolicy;
  stateDir: string;
  log: Logger;
  now?: () => number;
  /** Where the adapter's metrics go (the bot's /metrics registry); default: a registry of its own. */
  metricsRegistry?: Registry;
}

const ENCRYPTED_METRIC = 'chatops_matrix_encrypted_events_total';

interface RoomEvent {
  event_id: string;
  sender: string;
  type: string;
  origin_server_ts: number;
  content: Record<string, unknown> & {
    body?: string;
    msgtype?: string;
    'm.relates_to'?: { rel_type?: string; event_id?: string; key?: string };
    'm.new_content'?: unknown;
  };
}

const YES = new Set(['✅', '✔️', '👍']);
const NO = new Set(['❌', '✖️', '👎']);

/** The notice an encrypted room gets, once: the bot cannot read what is said there. */
export function encryptedRoomNotice(prefix: string, rooms: string[]): string {
  const where = rooms.length ? ` such as ${rooms.join(', ')}` : '';
  return (
    'This room is end-to-end encrypted, and this bot cannot read encrypted messages ' +
    `(it does not support Matrix end-to-end encryption), so commands typed here (${prefix}help …) ` +
    `are never seen. Use an unencrypted room${where}.`
  );
}

export const E2EE_HELP =
  'This bot does not support Matrix end-to-end encryption: ' +
  'set chat.matrix.encryption: false and use an unencrypted room.';

/**
 * Matrix through the bot's own client (matrix-client.ts): `!command` text in allowed rooms, notices with HTML,
 * edits for progress, threads for step logs, `!confirm <code>` or ✅ for confirmations.
 * The sync token is persisted, and events from before start-up are never acted on.
 */
export class MatrixAdapter implements ChatAdapter {
  readonly name = 'matrix';
  private client?: MatrixClient;
  private userId = '';
  private startedAt = 0;
  private stopped = false;
  /** The configured rooms (`chat.matrix.rooms`, aliases resolved); empty = any joined room. */
  private allowedRooms = new Set<string>();
  /** Proposal event id → confirmation code, for ✅ reactions. */
  private readonly proposals = new Map<string, string>();
  private readonly names = new Map<string, string>();
  /** Encrypted rooms already told that the bot cannot read them. */
  private readonly toldEncrypted = new Set<string>();
  private readonly log: Logger;
  private readonly now: () => number;
  /** `chatops_matrix_encrypted_events_total{room}`: encrypted events (and encryption turned on) the bot could not read. */
  readonly encryptedEvents: Counter<'room'>;

  constructor(private readonly opts: MatrixAdapterOptions) {
    this.log = opts.log.child({ adapter: 'matrix' });
    this.now = opts.now ?? Date.now;
    const registry = opts.metricsRegistry;
    this.encryptedEvents =
      (registry?.getSingleMetric(ENCRYPTED_METRIC) as Counter<'room'> | undefined) ??
      new Counter({
        name: ENCRYPTED_METRIC,
        help: 'Matrix events the bot could not read because the room is end-to-end encrypted (no E2EE support), by room',
        labelNames: ['room'] as const,
        registers: registry ? [registry] : [],
      });
  }

  async start(): Promise<void> {
    const { config } = this.opts;
    // Started again after a failed attempt (the homeserver was down): take events again.
    this.stopped = false;
    if (config.encryption)
      throw new UserError('chat.matrix.encryption is on, but E2EE is unavailable.', E2EE_HELP);
    const client = new MatrixClient(config.homeserverUrl, config.accessToken!, {
      syncTokenFile: path.join(this.opts.stateDir, 'matrix-sync.json'),
      log: this.log,
    });
    this.client = client;
    this.userId = await client.getUserId();
    for (const room of config.rooms) {
      const id = room.startsWith('#') ? await client.resolveRoom(room) : room;
      this.allowedRooms.add(id);
    }
    if (this.opts.access.usesPowerLevels() && this.allowedRooms.size === 0)
      this.log.warn(
        'matrix:powerlevel>= roles count only in the rooms listed in chat.matrix.rooms; none are listed, so they grant nothing',
      );
    this.startedAt = this.now();
    client.on(
      'room.invite',
      (roomId: string, event: RoomEvent) => void this.guard(() => this.onInvite(roomId, event)),
    );
    client.on(
      'room.message',
      (roomId: string, event: RoomEvent) => void this.guard(() => this.onMessage(roomId, event)),
    );
    client.on(
      'room.event',
      (roomId: string, event: RoomEvent) => void this.guard(() => this.onEvent(roomId, event)),
    );
    const joined = new Set(await client.getJoinedRooms());
    for (const room of this.allowedRooms) {
      if (!joined.has(room))
        await client
          .joinRoom(room)
          .catch((err) => this.log.warn({ err, room }, 'cannot join room'));
    }
    await client.start();
    this.log.info(
      { user: this.userId, rooms: [...this.allowedRooms], e2ee: false },
      'Matrix connected (no end-to-end encryption: encrypted rooms get a notice that the bot cannot read them)',
    );
  }

  publisher(): Publisher {
    if (!this.client) throw new Error('the Matrix adapter is not started');
    return new MatrixPublisher(this.client, this.opts.config.prefix);
  }

  async stop(): Promise<void> {
    // stop() only ends the sync loop after its current long-poll; ignore what that delivers.
    this.stopped = true;
    this.client?.stop();
  }

  private async guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log.error({ err }, 'Matrix event handling failed');
    }
  }

  private roomAllowed(roomId: string): boolean {
    return this.allowedRooms.size === 0 || this.allowedRooms.has(roomId);
  }

  /** Joins only allowed rooms, and only when a user named in the access roles invites. */
  private async onInvite(roomId: string, event: RoomEvent): Promise<void> {
    if (this.stopped) return;
    const inviter = event.sender;
    if (!this.roomAllowed(roomId) || !this.opts.access.matrixMembers().includes(inviter)) {
      this.log.info({ roomId, inviter }, 'ignoring invite (room or inviter not allowed)');
      return;
    }
    await this.client!.joinRoom(roomId);
    this.log.info({ roomId, inviter }, 'joined room on invite');
  }

  private fresh(event: RoomEvent): boolean {
    // Never our own messages, never history (a restart must not re-run old commands).
    return (
      !this.stopped && event.sender !== this.userId && event.origin_server_ts >= this.startedAt
    );
  }

  private async user(roomId: string, userId: string): Promise<ChatUser> {
    if (!this.names.has(userId)) {
      const profile = await this.client!.getUserProfile(userId).catch(() => undefined);
      this.names.set(userId, (profile?.displayname as string | undefined) ?? userId);
    }
    const user: ChatUser = { platform: 'matrix', id: userId, displayName: this.names.get(userId)! };
    // A power level is what the room's admins granted. Only the configured rooms' admins are
    // trusted: in a room anyone can create and invite the bot into, she has level 100.
    if (this.opts.access.usesPowerLevels() && this.allowedRooms.has(roomId)) {
      const levels = await this.client!.getRoomStateEvent(roomId, 'm.room.power_levels', '').catch(
        () => undefined,
      );
      user.powerLevel = levels?.users?.[userId] ?? levels?.users_default ?? 0;
    }
    return user;
  }

  private async onMessage(roomId: string, event: RoomEvent): Promise<void> {
    if (!this.fresh(event) || !this.roomAllowed(roomId)) return;
    const { content } = event;
    if (
      content.msgtype !== 'm.text' ||
      typeof content.body !== 'string' ||
      content['m.new_content']
    )
      return;
    const body = content.body.trim();
    const prefix = this.opts.config.prefix;
    if (!body.startsWith(prefix) && !body.startsWith('/')) return;
    const text = body.slice(body.startsWith(prefix) ? prefix.length : 1);
    const relates = content['m.relates_to'];
    const threadRoot = relates?.rel_type === 'm.thread' ? relates.event_id : undefined;
    const user = await this.user(roomId, event.sender);
    const responder = this.responder(roomId, event.event_id, threadRoot);
    await this.opts.dispatcher.handleText(
      text,
      user,
      { platform: 'matrix', id: roomId, threadId: threadRoot },
      responder,
      {
        messageId: event.event_id,
        link: `https://matrix.to/#/${encodeURIComponent(roomId)}/${encodeURIComponent(event.event_id)}`,
      },
    );
  }

  /** ✅ (or ❌) by the invoker on a proposal confirms (or cancels) it. */
  private async onEvent(roomId: string, event: RoomEvent): Promise<void> {
    const encryption = event.type === 'm.room.encryption' || event.type === 'm.room.encrypted';
    if (encryption && this.fresh(event) && this.roomAllowed(roomId))
      return this.onEncrypted(roomId, event);
    if (event.type !== 'm.reaction' || !this.fresh(event) || !this.roomAllowed(roomId)) return;
    const rel = event.content['m.relates_to'];
    const code = rel?.event_id ? this.proposals.get(rel.event_id) : undefined;
    if (rel?.rel_type !== 'm.annotation' || !code || !rel.key) return;
    const yes = YES.has(rel.key);
    if (!yes && !NO.has(rel.key)) return;
    const user = await this.user(roomId, event.sender);
    const responder = this.responder(roomId, event.event_id, undefined);
    if (yes) await this.opts.dispatcher.confirm(code, user, responder);
    else await this.opts.dispatcher.cancel(code, user, responder);
  }

  /**
   * The client has no crypto (see matrix-client.ts), so
   * an encrypted room's messages arrive as opaque m.room.encrypted: never silently ignore them.
   * Counted every time; logged and answered with one notice per room.
   */
  private async onEncrypted(roomId: string, event: RoomEvent): Promise<void> {
    this.encryptedEvents.inc({ room: roomId });
    if (this.toldEncrypted.has(roomId)) return;
    this.toldEncrypted.add(roomId);
    this.log.warn(
      { room: roomId, sender: event.sender, type: event.type },
      'Matrix room is end-to-end encrypted: the bot cannot read it (no E2EE support); posting a notice',
    );
    const rooms = [...this.allowedRooms].filter((r) => r !== roomId);
    const content = renderMatrix({
      title: 'This bot cannot read this room',
      text: encryptedRoomNotice(this.opts.config.prefix, rooms),
      severity: 'warning',
    });
    const reply = event.type === 'm.room.encrypted' ? event.event_id : undefined;
    try {
      await sendWithRetry(this.client!, roomId, 'm.room.message', {
        ...content,
        ...(reply ? { 'm.relates_to': { 'm.in_reply_to': { event_id: reply } } } : {}),
      });
    } catch (err) {
      this.toldEncrypted.delete(roomId); // try again with the next encrypted event
      throw err;
    }
  }

  private responder(
    roomId: string,
    eventId: string,
    threadRoot: string | undefined,
  ): MatrixResponder {
    return new MatrixResponder(
      this.client!,
      roomId,
      eventId,
      threadRoot,
      this.log.child({ invocation: randomUUID() }),
      {
        prefix: this.opts.config.prefix,
        now: this.now,
        onProposal: (proposalEventId, code) => {
          this.proposals.set(proposalEventId, code);
          // Codes expire after minutes; keep the map small.
          if (this.proposals.size > 500) this.proposals.delete(this.proposals.keys().next().value!);
        },
      },
    );
  }
}
