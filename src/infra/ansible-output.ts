/**
 * A line-by-line parser of ansible-playbook's default stdout callback (ansible-core 2.14+,
 * colour off, verbosity 0, result format json). Pure: feed it lines, get events; at the end
 * read the recap. The default callback is the only streaming stdout callback shipped with
 * ansible-core itself (`ansible.builtin.json` prints once at the end; `ansible.posix.jsonl`
 * needs a collection that a plain `apt install ansible-core` does not have).
 *
 * Shapes it understands:
 *   PLAY [name] ****            TASK [name] ****            RUNNING HANDLER [name] ****
 *   ok: [h]   changed: [h] => (item=x)   skipping: [h]   ok: [h -> delegate] => { …lines… }
 *   fatal: [h]: FAILED! => {json}   fatal: [h]: UNREACHABLE! => {json}   failed: [h] (item=x) => {json}
 *   ...ignoring                 PLAY RECAP ****  h : ok=1 changed=0 unreachable=0 failed=0 skipped=0 …
 */

export interface PlaybookEvent {
  type: 'play' | 'task' | 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';
  task?: string;
  host?: string;
  message?: string;
}

export interface HostStats {
  ok: number;
  changed: number;
  failed: number;
  unreachable: number;
  skipped: number;
}

export interface PlaybookFailure {
  host: string;
  task: string;
  message: string;
  /** Ansible could not reach the host (`UNREACHABLE!`), as opposed to a task that failed. */
  unreachable?: true;
}

/** The line a playbook prints (as a `debug` msg) to say a host needs a reboot. */
export const REBOOT_MARKER = /^REBOOT_REQUIRED=(true|false)$/;

const BANNER = /^(PLAY|TASK|RUNNING HANDLER) \[(.*)\] \**$/;
const RECAP_BANNER = /^PLAY RECAP \**$/;
const RESULT = /^(ok|changed|skipping|fatal|failed|unreachable): \[([^\]]+)\](.*)$/;
const RECAP_LINE =
  /^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)/;
const MAX_MESSAGE = 600;

type ResultKind = 'ok' | 'changed' | 'skipped' | 'failed' | 'unreachable';

interface OpenBlock {
  kind: ResultKind;
  host: string;
  item: string | undefined;
  lines: string[];
}

export class PlaybookOutputParser {
  private task = '';
  private inRecap = false;
  private block: OpenBlock | undefined;
  /** A failure is held back one line: `...ignoring` may follow it. */
  private pendingFailure: { event: PlaybookEvent; failure: PlaybookFailure } | undefined;
  readonly stats: Record<string, HostStats> = {};
  readonly failures: PlaybookFailure[] = [];
  private readonly reboot = new Map<string, boolean>();

  /** Parses one line of stdout (without its newline); returns the events it completes. */
  push(rawLine: string): PlaybookEvent[] {
    const line = rawLine.replace(/\r$/, '');
    const out: PlaybookEvent[] = [];
    if (this.pendingFailure) {
      const pending = this.pendingFailure;
      this.pendingFailure = undefined;
      if (line.trim() === '...ignoring') {
        pending.event.message = `${pending.event.message ?? ''} (ignored)`.trim();
        out.push(pending.event);
        return out;
      }
      this.failures.push(pending.failure);
      out.push(pending.event);
    }
    if (this.block) {
      this.block.lines.push(line);
      if (line === '}') {
        const block = this.block;
        this.block = undefined;
        this.result(block.kind, block.host, block.item, parseJson(block.lines.join('\n')), out);
      }
      return out;
    }
    if (this.inRecap) {
      const m = RECAP_LINE.exec(line);
      if (m) {
        this.stats[m[1]!] = {
          ok: Number(m[2]),
          changed: Number(m[3]),
          unreachable: Number(m[4]),
          failed: Number(m[5]),
          skipped: Number(m[6]),
        };
        return out;
      }
    }
    if (RECAP_BANNER.test(line)) {
      this.inRecap = true;
      return out;
    }
    const banner = BANNER.exec(line);
    if (banner) {
      this.inRecap = false;
      const name = banner[2]!;
      if (banner[1] === 'PLAY') {
        this.task = '';
        out.push({ type: 'play', message: name });
      } else {
        this.task = name;
        out.push(
          banner[1] === 'TASK'
            ? { type: 'task', task: name }
            : { type: 'task', task: name, message: 'handler' },
        );
      }
      return out;
    }
    const result = RESULT.exec(line);
    if (result) this.resultLine(result[1]!, result[2]!, result[3]!, out);
    return out;
  }

  /** Call at the end of output: flushes a held-back failure or an unterminated block. */
  end(): PlaybookEvent[] {
    const out: PlaybookEvent[] = [];
    if (this.pendingFailure) {
      this.failures.push(this.pendingFailure.failure);
      out.push(this.pendingFailure.event);
      this.pendingFailure = undefined;
    }
    if (this.block) {
      const block = this.block;
      this.block = undefined;
      this.result(block.kind, block.host, block.item, parseJson(block.lines.join('\n')), out);
    }
    return out;
  }

  /** Every host's last reboot marker (`REBOOT_REQUIRED=true|false`); hosts without one are absent. */
  get rebootMarkers(): Record<string, boolean> {
    return Object.fromEntries([...this.reboot].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Hosts whose last reboot marker said `REBOOT_REQUIRED=true`, sorted. */
  get rebootRequired(): string[] {
    return [...this.reboot]
      .filter(([, needed]) => needed)
      .map(([host]) => host)
      .sort();
  }

  private resultLine(word: string, hostPart: string, rest: string, out: PlaybookEvent[]): void {
    // `[h -> delegate]`: the result belongs to h.
    const host = hostPart.split(' -> ')[0]!.trim();
    let kind: ResultKind;
    if (word === 'fatal') kind = rest.startsWith(': UNREACHABLE!') ? 'unreachable' : 'failed';
    else if (word === 'skipping') kind = 'skipped';
    else kind = word as ResultKind;
    const item = /\(item=(.*?)\)\s*(=>|$)/.exec(rest)?.[1];
    const arrow = rest.indexOf('=> {');
    const jsonText = arrow >= 0 ? rest.slice(arrow + 3) : undefined;
    if (jsonText === '{') {
      this.block = { kind, host, item, lines: ['{'] };
      return;
    }
    this.result(kind, host, item, jsonText === undefined ? undefined : parseJson(jsonText), out);
  }

  private result(
    kind: ResultKind,
    host: string,
    item: string | undefined,
    data: Record<string, unknown> | undefined,
    out: PlaybookEvent[],
  ): void {
    const event: PlaybookEvent = { type: kind, host };
    if (this.task) event.task = this.task;
    const itemText = item === undefined ? undefined : `(item=${item})`;
    if (kind === 'failed' || kind === 'unreachable') {
      const reason = resultMessage(data) ?? (kind === 'unreachable' ? 'unreachable' : 'failed');
      event.message = itemText ? `${itemText} ${reason}` : reason;
      const failure = { host, task: this.task, message: event.message };
      if (kind === 'failed') {
        this.pendingFailure = { event, failure };
        return;
      }
      this.failures.push({ ...failure, unreachable: true });
      out.push(event);
      return;
    }
    const marker = markerOf(data);
    if (marker !== undefined) this.reboot.set(host, marker);
    const msg = typeof data?.msg === 'string' ? data.msg : undefined;
    const message = itemText ?? msg;
    if (message) event.message = clip(message);
    out.push(event);
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function markerOf(data: Record<string, unknown> | undefined): boolean | undefined {
  const msgs = Array.isArray(data?.msg) ? data.msg : [data?.msg];
  for (const msg of msgs) {
    const m = typeof msg === 'string' ? REBOOT_MARKER.exec(msg.trim()) : null;
    if (m) return m[1] === 'true';
  }
  return undefined;
}

/** The useful part of a failed result: msg, plus stderr/stdout of a failed command. */
function resultMessage(data: Record<string, unknown> | undefined): string | undefined {
  if (!data) return undefined;
  if (typeof data.censored === 'string') return 'output hidden (no_log: true)';
  const msg = typeof data.msg === 'string' ? data.msg : undefined;
  const detail = [data.stderr, data.stdout].find(
    (v): v is string => typeof v === 'string' && v.trim() !== '',
  );
  let text = msg ?? detail ?? (typeof data.rc === 'number' ? `exit code ${data.rc}` : undefined);
  if (text === undefined) return undefined;
  if (msg === 'non-zero return code') {
    text = `${msg} (rc=${String(data.rc)})${detail ? `: ${detail.trim()}` : ''}`;
  }
  return clip(summarizeSsh(text.replace(/\r\n?/g, '\n').trim()));
}

/** OpenSSH's host-key-changed banner is 15 lines; keep the lines that say what happened. */
export function summarizeSsh(message: string): string {
  if (!/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(message)) return message;
  const keep = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^SHA256:|^Offending .* key in|Host key verification failed/.test(l))
    .map((l) => (l.startsWith('SHA256:') ? `the host sent ${l.replace(/\.$/, '')};` : l));
  const prefix = /^Failed to connect to the host via ssh:/.test(message)
    ? 'Failed to connect to the host via ssh: '
    : '';
  return `${prefix}host key mismatch (REMOTE HOST IDENTIFICATION HAS CHANGED): ${keep.join(' ')}`;
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}
