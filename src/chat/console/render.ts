import type { Reply, Severity } from '../../core/reply.js';
import { terminalSafe } from './terminal-safe.js';

const ICON: Record<Severity, string> = { info: 'ℹ', success: '✔', warning: '⚠', error: '✖' };

export interface ConsoleRenderOptions {
  /** `now` for "expires in N s". */
  now?: number;
}

function bar(done: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => (l ? prefix + l : l))
    .join('\n');
}

/**
 * A reply as plain terminal text, every control character in it made visible (see
 * terminalSafe). Pure: same input, same output (golden-tested).
 */
export function renderConsole(reply: Reply, opts: ConsoleRenderOptions = {}): string {
  const out: string[] = [];
  const icon = reply.severity ? `${ICON[reply.severity]} ` : '';
  if (reply.mentions?.length) out.push(reply.mentions.join(' '));
  if (reply.title) out.push(`${icon}${reply.title}`);
  if (reply.text) out.push(indent(reply.text, reply.title ? '  ' : ''));
  if (reply.progress) {
    const { done, total, label } = reply.progress;
    out.push(`  ${bar(done, total)}${label ? ` ${label}` : ''}`);
  }
  if (reply.code) out.push(indent(reply.code, '    '));
  for (const f of reply.fields ?? []) {
    out.push(
      f.value.includes('\n')
        ? `  ${f.name}:\n${indent(f.value, '    ')}`
        : `  ${f.name}: ${f.value}`,
    );
  }
  if (reply.confirm) {
    const left =
      opts.now !== undefined
        ? Math.max(0, Math.round((reply.confirm.expiresAt - opts.now) / 1000))
        : undefined;
    out.push(
      `  Type y to confirm or n to cancel (or /confirm ${reply.confirm.code})${left !== undefined ? `; expires in ${left} s` : ''}.`,
    );
  }
  if (reply.footer) out.push(`  ${reply.footer}`);
  return terminalSafe(out.join('\n'));
}

/** One line for an in-place progress update: `… Draining pi4-a [####......] 2/5`. */
export function renderProgressLine(reply: Reply): string {
  const parts = [reply.title ?? reply.text?.split('\n')[0] ?? ''];
  if (reply.progress) parts.push(bar(reply.progress.done, reply.progress.total, 10));
  if (reply.progress?.label) parts.push(reply.progress.label);
  return terminalSafe(`… ${parts.filter(Boolean).join(' ')}`.replace(/\r?\n/g, ' '));
}

export function renderStep(line: string): string {
  return terminalSafe(`  › ${line}`);
}
