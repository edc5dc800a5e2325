export type Platform = 'console' | 'discord' | 'matrix';

export interface ChatUser {
  platform: Platform;
  /** Platform id: OS user name, Discord snowflake, Matrix `@user:server`. */
  id: string;
  displayName: string;
  /** Discord role ids of the member, for access rules. */
  roles?: readonly string[];
  /** Matrix power level of the user in the room the command came from. */
  powerLevel?: number;
}

export interface Conversation {
  platform: Platform;
  /** Channel / room id; `tty` or `stdin` for the console. */
  id: string;
  threadId?: string;
}

/** A parsed, not yet validated request: what every adapter produces. */
export interface Invocation {
  id: string;
  command: string;
  subcommand?: string;
  /** Raw values: strings from text input, typed values from Discord. */
  args: Record<string, unknown>;
  user: ChatUser;
  conversation: Conversation;
  origin: { text?: string; messageId?: string; link?: string };
  receivedAt: Date;
}

export function userKey(user: ChatUser): string {
  return `${user.platform}:${user.id}`;
}

export function userLabel(user: ChatUser): string {
  return `${user.platform}:${user.id} (${user.displayName})`;
}

/** `node reboot pi4-a dry_run:false`: what the user asked for, as they would type it. */
export function label(inv: Invocation): string {
  const args = Object.entries(inv.args).map(([k, v]) => {
    const text = String(v);
    const shown = /[\s"']/.test(text) || text === '' ? JSON.stringify(text) : text;
    return k === 'node' || k === 'id' ? shown : `${k}:${shown}`;
  });
  return [inv.command, inv.subcommand, ...args].filter(Boolean).join(' ');
}
