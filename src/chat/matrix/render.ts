import type { Reply, Severity } from '../../core/reply.js';
import { progressBar } from '../text.js';

export interface MatrixContent {
  msgtype: 'm.notice';
  body: string;
  format: 'org.matrix.custom.html';
  formatted_body: string;
}

const ICON: Record<Severity, string> = { info: 'ℹ️', success: '✅', warning: '⚠️', error: '❌' };

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** `code` spans in prose → <code>, everything else escaped. */
function inline(text: string): string {
  return text
    .split(/(`[^`\n]+`)/)
    .map((part) =>
      part.startsWith('`') && part.endsWith('`') && part.length > 1
        ? `<code>${escapeHtml(part.slice(1, -1))}</code>`
        : escapeHtml(part),
    )
    .join('')
    .replace(/\n/g, '<br>');
}

export interface MatrixRenderOptions {
  now?: number;
  /** The command prefix users type (`!`), for the confirmation hint. */
  prefix?: string;
}

/** A reply as an `m.notice` with HTML and an equivalent plain body. Pure. */
export function renderMatrix(reply: Reply, opts: MatrixRenderOptions = {}): MatrixContent {
  const prefix = opts.prefix ?? '!';
  const plain: string[] = [];
  const html: string[] = [];
  const icon = reply.severity ? `${ICON[reply.severity]} ` : '';
  if (reply.mentions?.length) {
    plain.push(reply.mentions.join(' '));
    html.push(
      `<p>${reply.mentions.map((m) => (m.startsWith('@') ? `<a href="https://matrix.to/#/${encodeURIComponent(m)}">${escapeHtml(m)}</a>` : escapeHtml(m))).join(' ')}</p>`,
    );
  }
  if (reply.title) {
    plain.push(`${icon}${reply.title}`);
    html.push(`<p><strong>${icon}${escapeHtml(reply.title)}</strong></p>`);
  }
  if (reply.text) {
    plain.push(reply.text);
    html.push(`<p>${inline(reply.text)}</p>`);
  }
  if (reply.progress) {
    const { done, total, label } = reply.progress;
    const bar = `${progressBar(done, total)}${label ? ` ${label}` : ''}`;
    plain.push(bar);
    html.push(`<p>${escapeHtml(bar)}</p>`);
  }
  if (reply.code) {
    plain.push(reply.code);
    html.push(`<pre><code>${escapeHtml(reply.code)}</code></pre>`);
  }
  if (reply.fields?.length) {
    for (const f of reply.fields) plain.push(`${f.name}: ${f.value}`);
    html.push(
      `<ul>${reply.fields.map((f) => `<li><strong>${escapeHtml(f.name)}:</strong> ${inline(f.value)}</li>`).join('')}</ul>`,
    );
  }
  if (reply.confirm) {
    const left =
      opts.now !== undefined
        ? Math.max(0, Math.round((reply.confirm.expiresAt - opts.now) / 1000))
        : undefined;
    const hint = `Reply ${prefix}confirm ${reply.confirm.code} or react with ✅ to go ahead (${prefix}cancel ${reply.confirm.code} to stop)${left !== undefined ? `; expires in ${left} s` : ''}. Only you can confirm.`;
    plain.push(hint);
    html.push(
      `<p><em>${inline(hint.replace(`${prefix}confirm ${reply.confirm.code}`, `\`${prefix}confirm ${reply.confirm.code}\``))}</em></p>`,
    );
  }
  if (reply.footer) {
    plain.push(reply.footer);
    html.push(`<p><sub>${inline(reply.footer)}</sub></p>`);
  }
  return {
    msgtype: 'm.notice',
    body: plain.join('\n'),
    format: 'org.matrix.custom.html',
    formatted_body: html.join(''),
  };
}

/** A step-log line for a thread. */
export function renderMatrixStep(line: string): MatrixContent {
  return {
    msgtype: 'm.notice',
    body: `› ${line}`,
    format: 'org.matrix.custom.html',
    formatted_body: `› ${inline(line)}`,
  };
}
