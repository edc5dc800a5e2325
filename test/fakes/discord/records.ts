/** Records the fake keeps: users, roles, channels/threads, messages with versions, interactions. */
import type { JsonObject } from './util.js';

export const Flags = {
  SuppressEmbeds: 4,
  HasThread: 32,
  Ephemeral: 64,
  Loading: 128,
  SuppressNotifications: 4096,
  ComponentsV2: 32768,
} as const;

export interface StoredUser {
  id: string;
  username: string;
  globalName: string | null;
  bot: boolean;
  roleIds: string[];
}

export interface StoredRole {
  id: string;
  name: string;
  permissions: string;
  position: number;
}

export interface StoredAttachment {
  id: string;
  filename: string;
  size: number;
  contentType: string;
  description: string | null;
  data: Buffer;
}

/** One version of a message; `history[0]` is the message as created. */
export interface MessageVersion {
  at: number;
  content: string;
  embeds: JsonObject[];
  components: JsonObject[];
  attachments: string[];
  flags: number;
}

export interface StoredMessage {
  id: string;
  channelId: string;
  authorId: string;
  /** The application id for interaction responses and follow-ups. */
  webhookId: string | null;
  type: number;
  content: string;
  embeds: JsonObject[];
  components: JsonObject[];
  attachments: StoredAttachment[];
  flags: number;
  createdAt: number;
  editedAt: number | null;
  /** User who alone can see this (ephemeral) message. */
  ephemeralFor: string | null;
  interactionId: string | null;
  threadId: string | null;
  reference: JsonObject | null;
  deleted: boolean;
  history: MessageVersion[];
}

export interface StoredChannel {
  id: string;
  type: number;
  name: string;
  topic: string | null;
  parentId: string | null;
  ownerId: string | null;
  createdAt: number;
  archived: boolean;
  locked: boolean;
  autoArchiveDuration: number;
  /** Starter message of a thread started from a message (same id as the thread). */
  starterMessageId: string | null;
  messageIds: string[];
}

export interface StoredInteraction {
  id: string;
  token: string;
  /** 2 command, 3 component, 4 autocomplete. */
  type: number;
  userId: string;
  channelId: string;
  name: string | null;
  customId: string | null;
  sourceMessageId: string | null;
  payload: JsonObject;
  sentAt: number;
  /** `sentAt` + the interaction deadline in force when it was sent. */
  deadline: number;
  /** `sentAt` + the token lifetime in force when it was sent: webhook routes then answer 50027. */
  tokenExpiresAt: number;
  response: { type: number; at: number; data: JsonObject | null } | null;
  /** Answers refused because they came after the deadline (10062). */
  lateAnswers: { type: number; at: number }[];
  originalMessageId: string | null;
  followUpIds: string[];
  choices: JsonObject[] | null;
  onAnswer: (() => void)[];
}

export function snapshot(m: StoredMessage): MessageVersion {
  return {
    at: Date.now(),
    content: m.content,
    embeds: m.embeds,
    components: m.components,
    attachments: m.attachments.map((a) => a.filename),
    flags: m.flags,
  };
}
