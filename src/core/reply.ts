/**
 * Platform-neutral output. Commands return and stream these; each chat adapter renders
 * them with a pure renderer (console text, Discord embeds/components, Matrix HTML).
 */
export type Severity = 'info' | 'success' | 'warning' | 'error';

export interface ReplyField {
  name: string;
  value: string;
  inline?: boolean;
}

export interface ReplyButton {
  /** Opaque id the adapter routes back to the dispatcher (e.g. `confirm:<code>`). */
  id: string;
  label: string;
  style: 'primary' | 'secondary' | 'danger' | 'success';
}

/** A picture shown with the message (a PNG graph): Discord attaches it to the embed, Matrix sends `m.image`. */
export interface ReplyImage {
  /** File name, e.g. `graph.png`. */
  name: string;
  mimetype: 'image/png';
  data: Uint8Array;
  width: number;
  height: number;
  /** What it shows, for people who cannot see it (and the `m.image` body). */
  alt: string;
  /** Identity of the picture: an edit with the same key need not send it again where it is a separate event. */
  key: string;
}

export interface Reply {
  title?: string;
  /** Short prose. `code` spans with backticks are allowed; nothing else is interpreted. */
  text?: string;
  /** A preformatted block: plans, command output, tables. */
  code?: string;
  fields?: ReplyField[];
  severity?: Severity;
  buttons?: ReplyButton[];
  /** For long work: how far along it is. */
  progress?: { done: number; total: number; label?: string };
  footer?: string;
  /** People or roles to notify (Discord `<@&role>`/`<@user>`, Matrix user ids): they get a ping, not just text. */
  mentions?: string[];
  /** Set on a proposal: how to confirm it. Adapters render this their own way (buttons, `!confirm`, `y`). */
  confirm?: { code: string; expiresAt: number };
  /** A picture shown with the message (alert graphs). */
  image?: ReplyImage;
}

/** A plan: exactly what a side-effecting command will do, shown for dry runs and confirmations. */
export interface Plan {
  summary: string;
  /** One line per command or API call, in order, e.g. `ssh pi@10.0.0.21 sudo systemctl reboot`. */
  steps: string[];
  /** Things the user should know before saying yes (e.g. "pi4-a will be cordoned"). */
  warnings?: string[];
}

export function planText(plan: Plan): string {
  return plan.steps.map((s, i) => `${i + 1}. ${s}`).join('\n');
}

export const reply = {
  info: (title: string, text?: string): Reply => ({ title, text, severity: 'info' }),
  success: (title: string, text?: string): Reply => ({ title, text, severity: 'success' }),
  warning: (title: string, text?: string): Reply => ({ title, text, severity: 'warning' }),
  error: (title: string, text?: string): Reply => ({ title, text, severity: 'error' }),
};
