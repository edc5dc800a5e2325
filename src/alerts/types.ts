/**
 * Shared types of the alert pipeline: Alertmanager webhook (payload version 4) → outbox →
 * routing → one root message + thread per alert group and destination.
 */

/** One alert of a webhook notification (Alertmanager webhook payload version 4). */
export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  /** `0001-01-01T00:00:00Z` while firing without an end. */
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface WebhookPayload {
  version: '4';
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: WebhookAlert[];
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  groupKey: string;
  truncatedAlerts: number;
}

/** Where alert messages go. `target` is a Discord channel id, a Matrix room id, or `console`. */
export interface Destination {
  platform: 'discord' | 'matrix' | 'console';
  target: string;
}

export function destinationKey(d: Destination): string {
  return `${d.platform}:${d.target}`;
}

/** A route's result for one group: where it goes and whom to mention. */
export interface RoutedDestination extends Destination {
  /** Mentions for this group's severity: Discord `<@&role>`/`<@user>`, Matrix user ids. */
  mentions: string[];
}

/** What the bot knows about one alert of a group. */
export interface KnownAlert {
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  /** When the bot saw it resolve (or Alertmanager's endsAt). */
  endsAt?: string;
  generatorURL: string;
}

export interface SilenceRecord {
  id: string;
  createdBy: string;
  comment: string;
  endsAt: string;
}

export interface AckRecord {
  by: string;
  at: string;
}

/**
 * The state of one alert group as the bot has shown it: rendered from this, always.
 * `ref` is the short handle people type (`A-12`).
 */
export interface GroupState {
  ref: string;
  groupKey: string;
  receiver: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  truncatedAlerts: number;
  alerts: KnownAlert[];
  /** When the group (last) started firing, and when it resolved. */
  firingSince: string;
  resolvedAt?: string;
  /** How many times this group fired again after resolving. */
  refires: number;
  silence?: SilenceRecord;
  ack?: AckRecord;
}

/** What changed in a group with a new notification: what the thread is told. */
export interface GroupChange {
  newlyFiring: KnownAlert[];
  newlyResolved: KnownAlert[];
  /** The whole group resolved with this notification. */
  groupResolved: boolean;
  /** The group was resolved and fires again. */
  refired: boolean;
}
