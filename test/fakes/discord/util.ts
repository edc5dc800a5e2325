/** Small shared helpers of the fake Discord: JSON types, snowflakes, Discord-shaped errors. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

const DISCORD_EPOCH = 1_420_070_400_000n;
let increment = 0n;
let lastMs = 0n;

/**
 * A real-looking snowflake (18–19 digits). discord.js buckets rate limits by ids of 17–19 digits
 * and derives timestamps from message/interaction ids, so every id the fake hands out is one.
 */
export function snowflake(at: number = Date.now()): string {
  const ms = BigInt(at);
  if (ms !== lastMs) {
    lastMs = ms;
    increment = 0n;
  }
  increment = (increment + 1n) & 0xfffn;
  return (((ms - DISCORD_EPOCH) << 22n) | (1n << 17n) | (1n << 12n) | increment).toString();
}

export function isSnowflake(value: string): boolean {
  return /^\d{17,20}$/.test(value);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asArray(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Nested `errors` tree as Discord returns it: `{ content: { _errors: [{ code, message }] } }`. */
export type ErrorTree = { [key: string]: ErrorTree | { code: string; message: string }[] };

/** An HTTP error with a Discord-shaped JSON body `{ message, code, errors? }`. */
export class DiscordHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: ErrorTree,
  ) {
    super(message);
  }

  body(): JsonObject {
    const body: JsonObject = { message: this.message, code: this.code };
    if (this.errors) body.errors = this.errors as unknown as Json;
    return body;
  }
}

export const Errors = {
  unknownGuild: () => new DiscordHttpError(404, 10004, 'Unknown Guild'),
  unknownMember: () => new DiscordHttpError(404, 10007, 'Unknown Member'),
  unknownChannel: () => new DiscordHttpError(404, 10003, 'Unknown Channel'),
  unknownMessage: () => new DiscordHttpError(404, 10008, 'Unknown Message'),
  unknownWebhook: () => new DiscordHttpError(404, 10015, 'Unknown Webhook'),
  unknownInteraction: () => new DiscordHttpError(404, 10062, 'Unknown interaction'),
  unknownCommand: () => new DiscordHttpError(404, 10063, 'Unknown application command'),
  unauthorized: () => new DiscordHttpError(401, 0, '401: Unauthorized'),
  invalidWebhookToken: () => new DiscordHttpError(401, 50027, 'Invalid Webhook Token'),
  alreadyAcknowledged: () =>
    new DiscordHttpError(400, 40060, 'Interaction has already been acknowledged.'),
  emptyMessage: () => new DiscordHttpError(400, 50006, 'Cannot send an empty message'),
  wrongChannelType: () =>
    new DiscordHttpError(400, 50024, 'Cannot execute action on this channel type'),
  cannotEditOthers: () =>
    new DiscordHttpError(403, 50005, 'Cannot edit a message authored by another user'),
  threadArchived: () => new DiscordHttpError(400, 50083, 'Thread is archived'),
  threadExists: () =>
    new DiscordHttpError(400, 160004, 'A thread has already been created for this message'),
  missingAccess: () => new DiscordHttpError(403, 50001, 'Missing Access'),
  missingPermissions: () => new DiscordHttpError(403, 50013, 'Missing Permissions'),
  tooLarge: () => new DiscordHttpError(413, 40005, 'Request entity too large'),
  notFound: (method: string, path: string) =>
    new DiscordHttpError(404, 0, `404: Not Found (fake Discord has no route ${method} ${path})`),
  invalidBody: (errors: ErrorTree) => new DiscordHttpError(400, 50035, 'Invalid Form Body', errors),
};
