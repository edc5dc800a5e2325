// Alert pipeline under load: webhook acknowledgement latency and throughput, storm delivery
// against a rate-limited Discord, and the bot's RSS meanwhile. Runs the built CLI
// (dist/src/main.js, a separate process, so RSS and CPU are the bot's alone) with alerts
// routed to the test double FakeDiscord started in this process; the storms come from the real
// Alertmanager (test/helpers/alertmanager.ts). Prints a summary and one JSON line.
// Run with `npm run bench alerts` (or `node bench/run.mjs alerts` after a build).
//
// 1. webhook: POST /hooks/alertmanager from this process over N keep-alive connections
//    (node:http Agent; each connection sends its next request when the previous answer has
//    been read), for a fixed duration, after a short warm-up. Latency = request written →
//    response end, as this process sees it (its event loop also runs the load generator and
//    the fake Discord). Four runs: "varied" payloads over 1 connection with 100 ms between
//    requests (the ack with the bot otherwise nearly idle), over 1 connection back to back,
//    and over N (every notification changes its group: one alert of five resolves and another
//    fires again, every sixth the whole group resolves and then fires again — real work for
//    apply and delivery), and "repeat" over N (the same notification again and again:
//    Alertmanager's retries and repeats, a no-op for the bot). Once alerts.maxBacklog (2000)
//    notifications wait to be applied the bot answers 503 + Retry-After without reading the
//    body (back-pressure): counted as "busy", not as errors; the latency figures are those of
//    the 200s. Every 200 is answered after the notification is fsync'ed into the outbox, so the filesystem of the state dir is printed,
//    with a baseline: the same durable write, 100 in a row from this process. After each run:
//    how long until the outbox is empty (every accepted notification applied), the most files
//    it held, the bot's CPU and the bytes it wrote until then (/proc/<pid>/io wchar: files and
//    sockets), per request.
//    The fake Discord has no rate limit here; the bot's own pacing (5 sends per 5 s per
//    channel) still applies.
// 2. storm: 1000 alerts in 100 groups (group_by alertname, group_wait 1s, group_interval 2s)
//    pushed into Alertmanager, which posts them to the bot; the fake Discord limits
//    POST /channels/:id/messages to 5 per 5 s per channel with Discord's headers (advertise).
//    Measured: push → every alert's instance label visible in the channel, its threads or
//    attachments (polled every 250 ms), and push → the bot's last Discord request (when its
//    stored state has nothing left to deliver and it has sent nothing for QUIET_MS); messages,
//    thread posts, edits and 429s; compared with the minimum the rate limit allows for that
//    many channel messages, (ceil(messages / 5) - 1) × 5 s, and the minimum of the bot's own
//    pacing, which counts every send (root, thread post, edit) against the channel's 5 per 5 s.
//    Then the same storm with alerts.rollupThreshold = 1000 (no roll-up), capped.
// 3. big: BENCH_BIG_GROUPS (200) groups of BENCH_BIG_ALERTS (2000) alerts each, routed nowhere
//    (`default: { to: [] }`: applying and storing only, no delivery). Seeded with one
//    notification per group (one connection, back to back; time until the outbox is empty),
//    then BENCH_BIG_NOTIFICATIONS (60) notifications over BENCH_CONNECTIONS connections, each
//    resolving one more alert of a group (round robin): time from the first request to the
//    last 200, and to the last of them applied (outbox empty); bot RSS peak (200 ms samples,
//    and VmHWM since start); the state on disk; then the bot is restarted on that state (time
//    to "ready"). Measures what one notification costs when the state is large.
// 4. first-post: a lone alert at a time (BENCH_FIRST_POST_RUNS, 5, each a new group, 3 s apart)
//    pushed into the real Alertmanager (group_wait 1s), which posts to the bot through a
//    pass-through proxy in this process that notes when each notification arrives (Alertmanager's
//    send). Measured: push → send, send → the root's POST to the channel as the fake Discord
//    (rate-limited as in the storm) receives it, and push → that POST. Peers that post at once
//    show ~1.03 s push → post with group_wait 1 s.
// 5. RSS: /proc/<pid>/status VmRSS of the bot every 200 ms during each run; idle = after
//    "ready" and IDLE_MS of nothing; VmHWM is the kernel's exact peak since start.
//
// Env: BENCH_DURATION_S (10) per webhook run, BENCH_WARMUP_S (2), BENCH_CONNECTIONS (10),
// BENCH_GROUPS (100) groups of 5 alerts in the varied payloads, BENCH_STORM_CAP_S (180) per
// storm, BENCH_IDLE_MS (2000), BENCH_STATE_PARENT (os.tmpdir()) where the state dirs go (to
// measure the fsync of another filesystem), BENCH_ALERTS_PHASES (first-post,webhook,storm,storm-norollup,big),
// BENCH_CLI (dist/src/main.js) the bot's entry point, e.g. a build of another commit,
// BENCH_NODE_ARGS node options for the bot (e.g. --max-old-space-size=384),
// BENCH_KEEP_STATE=1 keeps the state dirs (groups.json, the outbox) for inspection.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { writeDurably } from '../src/alerts/outbox.js';
import { FakeDiscord, snowflake } from '../test/fakes/discord/fake-discord.js';
import {
  freePort,
  type PushAlert,
  type RunningAlertmanager,
  startAlertmanager,
} from '../test/helpers/alertmanager.js';
import { discordChat } from '../test/helpers/app-fixture.js';

const DURATION_MS = Number(process.env.BENCH_DURATION_S ?? 10) * 1000;
const WARMUP_MS = Number(process.env.BENCH_WARMUP_S ?? 2) * 1000;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 100);
const STORM_CAP_MS = Number(process.env.BENCH_STORM_CAP_S ?? 180) * 1000;
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 2000);
const STATE_PARENT = process.env.BENCH_STATE_PARENT ?? tmpdir();
const PHASES = new Set(
  (process.env.BENCH_ALERTS_PHASES ?? 'first-post,webhook,storm,storm-norollup,big')
    .split(',')
    .map((s) => s.trim()),
);
const DRAIN_CAP_MS = 300_000;
const QUIET_MS = 7000;
const STORM_GROUPS = 100;
const STORM_PER_GROUP = 10;
const DISCORD_LIMIT = 5;
const DISCORD_WINDOW_MS = 5000;

const CLI = process.env.BENCH_CLI ?? path.resolve(import.meta.dirname, '../dist/src/main.js');
/** Node options for the bot, e.g. `--max-old-space-size=384` (space-separated). */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const FIXTURE = path.resolve(
  import.meta.dirname,
  '../test/fixtures/alertmanager/firing-critical.json',
);
const TOKEN = 'bench-hook-token';
const ALERTS = snowflake();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;

/** Nearest-rank quantile, like bench/task-add.mjs. */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function memory(pid: number): { rssMb: number; hwmMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rssMb: r1(kb('VmRSS') / 1024), hwmMb: r1(kb('VmHWM') / 1024) };
}

/** User + system CPU seconds of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function filesystem(dir: string): string {
  try {
    const out = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n');
    const [device, type] = (out[out.length - 1] ?? '').split(/\s+/);
    return `${type} (${device})`;
  } catch {
    return 'unknown';
  }
}

function outboxSize(stateDir: string): number {
  const dir = path.join(stateDir, 'alerts', 'outbox');
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).filter((f) => /^\d{12}\.json$/.test(f)).length;
}

/** Bytes the process has written (write(2) and friends, page cache included), 0 if unknown. */
function bytesWritten(pid: number): number {
  try {
    return Number(/^wchar:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** VmRSS (and the outbox size) every 200 ms while running; CPU and bytes written over the run. */
class Sampler {
  private timer?: NodeJS.Timeout;
  private readonly rss: number[] = [];
  private maxOutbox = 0;
  private readonly cpu0: number;
  private readonly written0: number;
  private readonly t0 = performance.now();

  constructor(
    private readonly pid: number,
    private readonly stateDir: string,
  ) {
    this.cpu0 = cpuSeconds(pid);
    this.written0 = bytesWritten(pid);
    this.sample();
    this.timer = setInterval(() => this.sample(), 200);
  }

  private sample(): void {
    try {
      this.rss.push(memory(this.pid).rssMb);
      this.maxOutbox = Math.max(this.maxOutbox, outboxSize(this.stateDir));
    } catch {
      // the process is gone
    }
  }

  stop() {
    clearInterval(this.timer);
    this.sample();
    const wallS = (performance.now() - this.t0) / 1000;
    const mem = memory(this.pid);
    return {
      samples: this.rss.length,
      peakRssMb: Math.max(...this.rss),
      endRssMb: this.rss[this.rss.length - 1] ?? Number.NaN,
      hwmMb: mem.hwmMb,
      maxOutboxFiles: this.maxOutbox,
      botCpuPercent: Math.round(((cpuSeconds(this.pid) - this.cpu0) / wallS) * 100),
      botWrittenMb: r1((bytesWritten(this.pid) - this.written0) / 1024 / 1024),
    };
  }
}

interface Bot {
  child: ChildProcess;
  port: number;
  stateDir: string;
  readyMs: number;
  /** Parsed stderr log lines (pino JSON); others as { raw }. */
  lines: Record<string, unknown>[];
}

const bots = new Set<Bot>();
const fakes = new Set<FakeDiscord>();
const alertmanagers = new Set<RunningAlertmanager>();
const dirs = new Set<string>();

async function startBot(
  fake: FakeDiscord,
  opts: {
    port?: number;
    alertmanagerUrl?: string;
    rollupThreshold?: number;
    /** Route every group nowhere: applying and storing only. */
    noDelivery?: boolean;
    /** Start on this state dir (a restart) instead of a new one. */
    stateDir?: string;
  } = {},
): Promise<Bot> {
  const dir = mkdtempSync(path.join(STATE_PARENT, 'bench-alerts-'));
  dirs.add(dir);
  const stateDir = opts.stateDir ?? path.join(dir, 'state');
  const port = opts.port ?? (await freePort());
  const configFile = path.join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    stringify({
      state: { dir: stateDir },
      log: { level: 'info' },
      http: { port },
      chat: {
        console: { enabled: false },
        discord: discordChat(fake, { registerOnStart: false }),
      },
      alerts: {
        enabled: true,
        webhook: { token: TOKEN },
        ...(opts.alertmanagerUrl ? { alertmanager: { url: opts.alertmanagerUrl } } : {}),
        default: { to: opts.noDelivery ? [] : [{ discord: ALERTS }] },
        ...(opts.rollupThreshold ? { rollupThreshold: opts.rollupThreshold } : {}),
      },
    }),
  );
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...NODE_ARGS, CLI, '--config', configFile], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const bot: Bot = { child, port, stateDir, readyMs: 0, lines: [] };
    bots.add(bot);
    let buf = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          parsed = { raw: line };
        }
        bot.lines.push(parsed);
        if (parsed.msg === 'ready' && !bot.readyMs) {
          bot.readyMs = Math.round(performance.now() - t0);
          resolve(bot);
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (!bot.readyMs) {
        const log = bot.lines.map((l) => JSON.stringify(l)).join('\n');
        reject(new Error(`the bot exited (${code ?? signal}) before "ready":\n${log}`));
      }
    });
  });
}

interface Stopped {
  exit: number | string | null;
  stopMs: number;
  /** Warn/error lines the bot logged while stopping. */
  warnOrError: Record<string, number>;
}

/** SIGTERM; SIGKILL after 30 s. Resolves with how long the graceful stop took. */
function stopBot(bot: Bot): Promise<Stopped> {
  bots.delete(bot);
  const { child } = bot;
  const from = bot.lines.length;
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ exit: child.exitCode ?? child.signalCode, stopMs: 0, warnOrError: {} });
      return;
    }
    const t0 = performance.now();
    const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', (code, signal) => {
      clearTimeout(kill);
      resolve({
        exit: code ?? signal,
        stopMs: Math.round(performance.now() - t0),
        warnOrError: summarizeProblems(problems(bot, from)),
      });
    });
    child.kill('SIGTERM');
  });
}

/** Warn/error log lines (pino level ≥ 40) and unparsable ones, for the report. */
function problems(bot: Bot, from = 0): Record<string, unknown>[] {
  return bot.lines.slice(from).filter((l) => typeof l.level !== 'number' || l.level >= 40);
}

function summarizeProblems(lines: Record<string, unknown>[]): Record<string, number> {
  const byMsg: Record<string, number> = {};
  for (const l of lines) {
    const err = l.err as { message?: string } | undefined;
    const key = `${String(l.msg ?? l.raw ?? '?')}${err?.message ? `: ${err.message}` : ''}`.slice(
      0,
      200,
    );
    byMsg[key] = (byMsg[key] ?? 0) + 1;
  }
  return byMsg;
}

async function webhookMetrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^chatops_alert_webhook_requests_total\{status="(\d+)"\} (\d+)/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Webhook load

const STARTS_AT = '2026-11-26T06:00:00.000Z';
const ENDS_AT = '2026-11-26T07:00:00.000Z';
const NO_END = '0001-01-01T00:00:00Z';
const fingerprint = (labels: Record<string, string>) =>
  createHash('sha256').update(JSON.stringify(labels)).digest('hex').slice(0, 16);

/**
 * Group g, variant v (0–5): five alerts; in variants 0–4 alert v is resolved and the others
 * fire, variant 5 resolves the group. Sent in order v = 0, 1, …, 5, 0, … every notification
 * is a change: one alert resolves and one fires again; after 5 the group fires again.
 */
function variedPayload(g: number, v: number): string {
  const groupResolved = v === 5;
  const alertname = `BenchAlert${g}`;
  const severity = g % 10 === 0 ? 'critical' : 'warning';
  const alerts = [0, 1, 2, 3, 4].map((i) => {
    const labels = {
      alertname,
      instance: `node-${g}-${i}.lab.example:9100`,
      job: 'node',
      namespace: 'monitoring',
      severity,
    };
    const resolved = groupResolved || i === v;
    return {
      status: resolved ? 'resolved' : 'firing',
      labels,
      annotations: {
        summary: `node-${g}-${i} is unhappy (${alertname})`,
        description: `Instance node-${g}-${i}.lab.example:9100 of job node has reported a problem for more than 5 minutes; see the runbook.`,
        runbook_url: `https://runbooks.lab.example/${alertname.toLowerCase()}`,
      },
      startsAt: STARTS_AT,
      endsAt: resolved ? ENDS_AT : NO_END,
      generatorURL: `http://prometheus.lab.example:9090/graph?g0.expr=up%7Bjob%3D%22node%22%7D+%3D%3D+0&g0.tab=1`,
      fingerprint: fingerprint(labels),
    };
  });
  return JSON.stringify({
    receiver: 'chatops',
    status: groupResolved ? 'resolved' : 'firing',
    alerts,
    groupLabels: { alertname },
    commonLabels: { alertname, job: 'node', namespace: 'monitoring', severity },
    commonAnnotations: {
      runbook_url: `https://runbooks.lab.example/${alertname.toLowerCase()}`,
    },
    externalURL: 'http://alertmanager.lab.example:9093',
    version: '4',
    groupKey: `{}:{alertname="${alertname}"}`,
    truncatedAlerts: 0,
  });
}

interface LoadResult {
  connections: number;
  durationS: number;
  requests: number;
  rps: number;
  bodyBytes: number;
  status: Record<string, number>;
  /** Neither 200 nor the back-pressure 503. */
  errors: number;
  /** 503 + Retry-After: the backlog was full (alerts.maxBacklog). */
  busy: number;
  /** 200s per second. */
  acceptedPerS: number;
  medianMs: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

function postOnce(agent: http.Agent, port: number, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/hooks/alertmanager',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          authorization: `Bearer ${TOKEN}`,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `connections` keep-alive connections, each posting `next()` back to back for `ms`. */
async function drive(
  port: number,
  connections: number,
  ms: number,
  next: () => Buffer,
  gapMs = 0,
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  let errors = 0;
  let bytes = 0;
  const start = performance.now();
  const end = start + ms;
  const worker = async () => {
    while (performance.now() < end) {
      const body = next();
      bytes += body.length;
      const t0 = performance.now();
      try {
        const s = await postOnce(agent, port, body);
        // The ack latency is that of the 200s; a busy 503 is answered without reading the body.
        if (s === 200) latencies.push(performance.now() - t0);
        status[s] = (status[s] ?? 0) + 1;
      } catch {
        errors++;
      }
      if (gapMs) await sleep(gapMs);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const requests = Object.values(status).reduce((n, c) => n + c, 0) + errors;
  return {
    connections,
    durationS: r2(elapsed),
    requests,
    rps: Math.round(requests / elapsed),
    bodyBytes: Math.round(bytes / Math.max(1, requests)),
    status,
    errors:
      errors +
      Object.entries(status).reduce((n, [s, c]) => n + (s === '200' || s === '503' ? 0 : c), 0),
    busy: status['503'] ?? 0,
    acceptedPerS: Math.round((status['200'] ?? 0) / elapsed),
    medianMs: r2(quantile(sorted, 0.5)),
    p95Ms: r2(quantile(sorted, 0.95)),
    p99Ms: r2(quantile(sorted, 0.99)),
    maxMs: r2(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

/** Waits until every accepted notification has been applied (the outbox is empty). */
async function drain(stateDir: string): Promise<{ drainMs: number; leftInOutbox: number }> {
  const t0 = performance.now();
  let left = outboxSize(stateDir);
  while (left > 0 && performance.now() - t0 < DRAIN_CAP_MS) {
    await sleep(100);
    left = outboxSize(stateDir);
  }
  return { drainMs: Math.round(performance.now() - t0), leftInOutbox: left };
}

// ---------------------------------------------------------------------------------------------
// Storm

function stormAlerts(): PushAlert[] {
  const alerts: PushAlert[] = [];
  for (let g = 0; g < STORM_GROUPS; g++) {
    for (let i = 0; i < STORM_PER_GROUP; i++) {
      alerts.push({
        labels: { alertname: `Storm${g}`, severity: 'warning', instance: `host-${g}-${i}:9100` },
        annotations: { summary: `storm ${g}/${i}` },
      });
    }
  }
  return alerts;
}

/** Everything a user can read in the channel: messages, embeds, threads and attachments. */
function everythingVisible(fake: FakeDiscord): string {
  const messages = [...fake.channelMessages(ALERTS), ...fake.threads().flatMap((t) => t.messages)];
  return messages
    .map((m) =>
      [m.content, JSON.stringify(m.embeds), ...m.attachments.map((a) => a.text)].join('\n'),
    )
    .join('\n');
}

/** What delivery still has to do, from the bot's stored state: dirty views and roll-ups. */
function pending(stateDir: string): { groups: number; views: number; rollups: number } | null {
  type Group = { views: Record<string, { dirty: boolean }> };
  type Rollups = Record<string, { dirty: boolean }>;
  const dir = path.join(stateDir, 'alerts');
  const read = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;
  try {
    let groups: Group[];
    let rollups: Rollups;
    if (existsSync(path.join(dir, 'index.json'))) {
      // One file per group (index.json + groups/<hash>.json).
      rollups = read<{ rollups: Rollups }>(path.join(dir, 'index.json')).rollups;
      groups = readdirSync(path.join(dir, 'groups'))
        .filter((f) => /^[0-9a-f]{32}\.json$/.test(f))
        .map((f) => read<Group>(path.join(dir, 'groups', f)));
    } else {
      // Earlier versions (BENCH_CLI): one groups.json.
      const store = read<{ groups: Record<string, Group>; rollups: Rollups }>(
        path.join(dir, 'groups.json'),
      );
      groups = Object.values(store.groups);
      rollups = store.rollups;
    }
    return {
      groups: groups.length,
      views: groups.flatMap((g) => Object.values(g.views)).filter((v) => v.dirty).length,
      rollups: Object.values(rollups).filter((r) => r.dirty).length,
    };
  } catch {
    return null; // not written yet, or caught mid-rename
  }
}

/**
 * No group view left dirty. Roll-ups are not counted: the bot leaves a roll-up `dirty: true`
 * on disk when re-rendering it changes nothing (editRollup returns before saving), so the
 * file says there is work when there is none; `pendingAtEnd` reports it.
 */
const nothingPending = (stateDir: string): boolean => {
  const p = pending(stateDir);
  return p !== null && p.groups > 0 && p.views === 0;
};

const minPacedMs = (n: number) =>
  n === 0 ? 0 : (Math.ceil(n / DISCORD_LIMIT) - 1) * DISCORD_WINDOW_MS;

async function storm(label: string, rollupThreshold?: number) {
  const fake = await FakeDiscord.start({ channels: [{ id: ALERTS, name: 'alerts' }] });
  fakes.add(fake);
  fake.setRateLimit({
    route: 'POST /channels/:id/messages',
    limit: DISCORD_LIMIT,
    windowMs: DISCORD_WINDOW_MS,
    advertise: true,
  });
  const port = await freePort();
  const am = await startAlertmanager({
    webhookUrl: `http://127.0.0.1:${port}/hooks/alertmanager`,
    token: TOKEN,
    groupWait: '1s',
    groupInterval: '2s',
    groupBy: ['alertname'],
  });
  alertmanagers.add(am);
  const bot = await startBot(fake, { port, alertmanagerUrl: am.url, rollupThreshold });
  await sleep(IDLE_MS);
  const idle = memory(bot.child.pid!);
  const linesBefore = bot.lines.length;
  const requestsBefore = fake.requests.length;

  const alerts = stormAlerts();
  const instances = alerts.map((a) => a.labels.instance!);
  const sampler = new Sampler(bot.child.pid!, bot.stateDir);
  const benchCpu0 = process.cpuUsage();
  const t0 = Date.now();
  await am.push(alerts);
  let allVisibleMs: number | undefined;
  let missing = instances.length;
  let quietSince = Date.now();
  let seenRequests = fake.requests.length;
  for (;;) {
    await sleep(250);
    const now = Date.now();
    if (fake.requests.length !== seenRequests) {
      seenRequests = fake.requests.length;
      quietSince = now;
    }
    if (allVisibleMs === undefined) {
      const text = everythingVisible(fake);
      missing = instances.filter((i) => !text.includes(i)).length;
      if (missing === 0) allVisibleMs = now - t0;
    }
    const done =
      allVisibleMs !== undefined && now - quietSince >= QUIET_MS && nothingPending(bot.stateDir);
    if (done || now - t0 > STORM_CAP_MS) break;
  }
  const pendingAtEnd = pending(bot.stateDir);
  const capped = allVisibleMs === undefined || !nothingPending(bot.stateDir);
  const mem = sampler.stop();
  const benchCpu = process.cpuUsage(benchCpu0);
  const wallS = (Date.now() - t0) / 1000;

  const reqs = fake.requests.slice(requestsBefore);
  const ok = (r: { status: number }) => r.status >= 200 && r.status < 300;
  const channelPosts = reqs.filter(
    (r) => ok(r) && r.method === 'POST' && r.path === `/channels/${ALERTS}/messages`,
  );
  const threadPosts = reqs.filter(
    (r) =>
      ok(r) &&
      r.method === 'POST' &&
      /^\/channels\/\d+\/messages$/.test(r.path) &&
      r.path !== `/channels/${ALERTS}/messages`,
  );
  const edits = reqs.filter(
    (r) => ok(r) && r.method === 'PATCH' && /^\/channels\/\d+\/messages\/\d+$/.test(r.path),
  );
  const threadStarts = reqs.filter(
    (r) => ok(r) && r.method === 'POST' && /\/threads$/.test(r.path),
  );
  const firstAt = reqs[0]?.at;
  const lastAt = reqs[reqs.length - 1]?.at;
  const channelSpanMs =
    channelPosts.length > 1 ? channelPosts[channelPosts.length - 1]!.at - channelPosts[0]!.at : 0;
  const paced = channelPosts.length + threadPosts.length + edits.length;
  const threads = fake.threads();
  const hooks = await webhookMetrics(bot.port);
  const amLog = am.log();
  const stormProblems = problems(bot, linesBefore);
  const stop = await stopBot(bot);
  await am.stop();
  alertmanagers.delete(am);
  await fake.stop();
  fakes.delete(fake);

  return {
    label,
    rollupThreshold: rollupThreshold ?? 10,
    alerts: alerts.length,
    groups: STORM_GROUPS,
    finished: !capped,
    capS: STORM_CAP_MS / 1000,
    missingAtEnd: missing,
    pendingAtEnd,
    allVisibleMs: allVisibleMs ?? null,
    firstDiscordRequestMs: firstAt === undefined ? null : firstAt - t0,
    lastDiscordRequestMs: lastAt === undefined ? null : lastAt - t0,
    channelMessages: channelPosts.length,
    channelMessagesNow: fake.channelMessages(ALERTS).length,
    threadPosts: threadPosts.length,
    edits: edits.length,
    threadsStarted: threadStarts.length,
    threads: threads.length,
    duplicateThreads:
      threads.length - new Set(threads.map((t) => t.starterMessage?.id ?? t.id)).size,
    discordRequests: reqs.length,
    rateLimited429: fake.stats.rateLimited,
    unhandled: fake.unhandled.length,
    channelSpanMs,
    minChannelMsForRateLimit: minPacedMs(channelPosts.length),
    pacedSends: paced,
    minMsForBotPacing: minPacedMs(paced),
    webhookRequests: hooks,
    alertmanagerNotifyFailures: (amLog.match(/Notify attempt failed|notify retry canceled/g) ?? [])
      .length,
    readyMs: bot.readyMs,
    idleRssMb: idle.rssMb,
    peakRssMb: mem.peakRssMb,
    endRssMb: mem.endRssMb,
    hwmMb: mem.hwmMb,
    botCpuPercent: mem.botCpuPercent,
    benchProcessCpuPercent: Math.round(((benchCpu.user + benchCpu.system) / 1e6 / wallS) * 100),
    botWarnOrError: summarizeProblems(stormProblems),
    stopMs: stop.stopMs,
    botExit: stop.exit,
    stopWarnOrError: stop.warnOrError,
  };
}

function printStorm(s: Awaited<ReturnType<typeof storm>>): void {
  const sec = (ms: number | null) => (ms === null ? 'n/a' : `${r1(ms / 1000)} s`);
  console.log(
    `storm (${s.alerts} alerts in ${s.groups} groups, rollupThreshold ${s.rollupThreshold}, Discord 5 msgs/5 s/channel advertised): ` +
      (s.finished
        ? `every alert visible ${sec(s.allVisibleMs)} after the push, last Discord request at ${sec(s.lastDiscordRequestMs)}`
        : `NOT finished within ${s.capS} s: ${s.missingAtEnd} alerts not visible, visible at ${sec(s.allVisibleMs)}`) +
      ` (first Discord request at ${sec(s.firstDiscordRequestMs)}, Alertmanager group_wait 1 s)`,
  );
  console.log(
    `  bot made ${s.channelMessages} channel messages, ${s.threadPosts} thread posts, ${s.edits} edits, ` +
      `${s.threadsStarted} threads (${s.discordRequests} Discord requests in all); ${s.rateLimited429} 429s served; ` +
      `channel messages spread over ${sec(s.channelSpanMs)}, the rate limit allows ${s.channelMessages} in ${sec(s.minChannelMsForRateLimit)}; ` +
      `the bot's own pacing (every send on the channel's budget: ${s.pacedSends}) needs at least ${sec(s.minMsForBotPacing)}`,
  );
  console.log(
    `  bot RSS idle ${s.idleRssMb} MB, peak ${s.peakRssMb} MB (VmHWM ${s.hwmMb} MB), at end ${s.endRssMb} MB; ` +
      `bot CPU ${s.botCpuPercent}%, bench process ${s.benchProcessCpuPercent}%; webhook answers ${JSON.stringify(s.webhookRequests)}; ` +
      `Alertmanager notify failures ${s.alertmanagerNotifyFailures}; bot warn/error ${JSON.stringify(s.botWarnOrError)}; ` +
      `SIGTERM → exit ${s.stopMs} ms (${s.botExit}), warn/error while stopping ${JSON.stringify(s.stopWarnOrError)}`,
  );
}

// ---------------------------------------------------------------------------------------------

const result: Record<string, unknown> = {
  bench: 'alerts',
  node: process.version,
  cpus: cpus().length,
  loadavgAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
};

afterAll(async () => {
  for (const bot of [...bots]) await stopBot(bot);
  for (const am of alertmanagers) await am.stop();
  for (const fake of fakes) await fake.stop();
  if (process.env.BENCH_KEEP_STATE === '1') console.log(`state kept in ${[...dirs].join(' ')}`);
  else for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  result.loadavgAtEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  console.log(JSON.stringify(result));
});

it.skipIf(!PHASES.has('webhook'))(
  'webhook acknowledgement latency and throughput, bot RSS under load',
  async () => {
    const fake = await FakeDiscord.start({ channels: [{ id: ALERTS, name: 'alerts' }] });
    fakes.add(fake);
    // Baseline: the outbox's durable write (temp file, fsync, rename, fsync of the dir) of one
    // payload, one after the other, on the state dir's filesystem, from this process.
    const probeDir = mkdtempSync(path.join(STATE_PARENT, 'bench-alerts-fsync-'));
    dirs.add(probeDir);
    const probeBody = variedPayload(0, 0);
    const writes: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      await writeDurably(path.join(probeDir, `${i}.json`), probeBody);
      writes.push(performance.now() - t0);
    }
    writes.sort((a, b) => a - b);
    const fsyncBaseline = {
      n: writes.length,
      medianMs: r2(quantile(writes, 0.5)),
      p99Ms: r2(quantile(writes, 0.99)),
      maxMs: r2(writes[writes.length - 1]!),
    };

    const bot = await startBot(fake);
    const pid = bot.child.pid!;
    const fs = filesystem(bot.stateDir);
    console.log(
      `state dir on ${fs}; one durable write of a ${probeBody.length} B payload (write, fsync, rename, fsync dir), ` +
        `100 in a row from this process: median ${fsyncBaseline.medianMs} ms, p99 ${fsyncBaseline.p99Ms} ms, max ${fsyncBaseline.maxMs} ms`,
    );
    await sleep(IDLE_MS);
    const idle = memory(pid);

    // Sanity: what the webhook refuses.
    const unauthorized = await fetch(`http://127.0.0.1:${bot.port}/hooks/alertmanager`, {
      method: 'POST',
      headers: { authorization: 'Bearer wrong', 'content-type': 'application/json' },
      body: '{}',
    });
    const invalid = await fetch(`http://127.0.0.1:${bot.port}/hooks/alertmanager`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{"version":"3"}',
    });
    expect([unauthorized.status, invalid.status]).toEqual([401, 400]);
    await Promise.all([unauthorized.text(), invalid.text()]);

    const bodies: Buffer[][] = [];
    for (let g = 0; g < GROUPS; g++) {
      bodies.push([0, 1, 2, 3, 4, 5].map((v) => Buffer.from(variedPayload(g, v))));
    }
    let seq = 0;
    const varied = () => {
      const n = seq++;
      return bodies[n % GROUPS]![Math.floor(n / GROUPS) % 6]!;
    };
    const repeat = Buffer.from(readFileSync(FIXTURE, 'utf8'));

    const runs: Record<string, unknown>[] = [];
    const run = async (name: string, connections: number, next: () => Buffer, gapMs = 0) => {
      const linesBefore = bot.lines.length;
      const discordBefore = fake.requests.length;
      const sampler = new Sampler(pid, bot.stateDir);
      const benchCpu0 = process.cpuUsage();
      const load = await drive(bot.port, connections, DURATION_MS, next, gapMs);
      const benchCpu = process.cpuUsage(benchCpu0);
      const backlog = outboxSize(bot.stateDir);
      const drained = await drain(bot.stateDir);
      const mem = sampler.stop();
      const r = {
        name,
        gapMs,
        ...load,
        outboxAtEnd: backlog,
        ...drained,
        appliedPerS: Math.round(
          ((load.status['200'] ?? 0) - drained.leftInOutbox) /
            (load.durationS + drained.drainMs / 1000),
        ),
        ...mem,
        benchProcessCpuPercent: Math.round(
          ((benchCpu.user + benchCpu.system) / 1e6 / load.durationS) * 100,
        ),
        discordRequests: fake.requests.length - discordBefore,
        botWrittenKbPerRequest: Math.round((mem.botWrittenMb * 1024) / Math.max(1, load.requests)),
        botWarnOrError: summarizeProblems(problems(bot, linesBefore)),
      };
      runs.push(r);
      console.log(
        `webhook ${name}, ${connections} keep-alive connection${connections === 1 ? '' : 's'}${gapMs ? `, ${gapMs} ms between requests` : ''}, ${load.durationS} s, ${load.bodyBytes} B bodies: ` +
          `${load.rps} req/s, ${load.acceptedPerS} accepted/s (${load.requests} requests: ${JSON.stringify(load.status)}; ${load.busy} busy 503s, ${load.errors} errors); ` +
          `ack (200) latency median ${load.medianMs} ms, p95 ${load.p95Ms} ms, p99 ${load.p99Ms} ms, max ${load.maxMs} ms`,
      );
      console.log(
        `  outbox: ${backlog} waiting at the end of the load (max ${mem.maxOutboxFiles}), empty ${r1(drained.drainMs / 1000)} s later` +
          `${drained.leftInOutbox ? ` (NOT empty: ${drained.leftInOutbox} left after ${DRAIN_CAP_MS / 1000} s)` : ''}, ` +
          `≈ ${r.appliedPerS} applied/s; bot RSS peak ${mem.peakRssMb} MB (VmHWM ${mem.hwmMb} MB), bot CPU ${mem.botCpuPercent}%, ` +
          `bench process CPU ${r.benchProcessCpuPercent}%; bot wrote ${mem.botWrittenMb} MB (${r.botWrittenKbPerRequest} KiB per request) until the outbox was empty; ` +
          `${r.discordRequests} Discord requests; bot warn/error ${JSON.stringify(r.botWarnOrError)}`,
      );
      return load;
    };

    await drive(bot.port, CONNECTIONS, WARMUP_MS, varied); // JIT, groups created
    await drain(bot.stateDir);
    // One at a time with a pause: the ack alone, while nothing else is being applied.
    const paced = await run('varied', 1, varied, 100);
    const serial = await run('varied', 1, varied);
    const concurrent = await run('varied', CONNECTIONS, varied);
    const repeats = await run('repeat', CONNECTIONS, () => repeat);

    const hooks = await webhookMetrics(bot.port);
    const after = memory(pid);
    const groupsBytes = stateOnDisk(bot.stateDir).bytes;
    const stop = await stopBot(bot);
    console.log(
      `bot idle RSS ${idle.rssMb} MB before, ${after.rssMb} MB after (VmHWM ${after.hwmMb} MB); ` +
        `alert state ${Math.round(groupsBytes / 1024)} KiB on disk; ` +
        `webhook answers ${JSON.stringify(hooks)}; SIGTERM → exit ${stop.stopMs} ms (${stop.exit}), ` +
        `warn/error while stopping ${JSON.stringify(stop.warnOrError)}`,
    );
    result.webhook = {
      stateFilesystem: fs,
      durableWriteBaseline: fsyncBaseline,
      readyMs: bot.readyMs,
      idleRssMb: idle.rssMb,
      afterRssMb: after.rssMb,
      hwmMb: after.hwmMb,
      groups: GROUPS,
      stateBytes: groupsBytes,
      webhookAnswers: hooks,
      stopMs: stop.stopMs,
      botExit: stop.exit,
      stopWarnOrError: stop.warnOrError,
      runs,
    };
    await fake.stop();
    fakes.delete(fake);

    for (const load of [paced, serial, concurrent, repeats]) expect(load.errors).toBe(0);
    expect(fake.unhandled).toEqual([]);
  },
);

it.skipIf(!PHASES.has('storm'))(
  `storm: ${STORM_GROUPS * STORM_PER_GROUP} alerts in ${STORM_GROUPS} groups against a rate-limited Discord`,
  async () => {
    const s = await storm('rollup');
    result.storm = s;
    printStorm(s);
    expect(s.finished).toBe(true);
    expect(s.duplicateThreads).toBe(0);
    expect(s.unhandled).toBe(0);
  },
);

it.skipIf(!PHASES.has('storm-norollup'))(
  'the same storm without the roll-up (rollupThreshold 1000)',
  async () => {
    const s = await storm('no-rollup', 1000);
    result.stormNoRollup = s;
    printStorm(s);
    // Not finishing within the cap is a figure here, not a failure.
    expect(s.duplicateThreads).toBe(0);
    expect(s.unhandled).toBe(0);
  },
);

// ---------------------------------------------------------------------------------------------
// First post of a lone alert

const FIRST_POST_RUNS = Number(process.env.BENCH_FIRST_POST_RUNS ?? 5);
const FIRST_POST_GAP_MS = 3000;

/** In front of the bot's webhook: notes when Alertmanager sends each notification, forwards it. */
async function sendRecorder(botPort: number) {
  const sends: number[] = [];
  const server = http.createServer((req, res) => {
    sends.push(Date.now());
    const up = http.request(
      { host: '127.0.0.1', port: botPort, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}/hooks/alertmanager`,
    sends,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

it.skipIf(!PHASES.has('first-post'))(
  'first post of a lone alert after Alertmanager sends it',
  async () => {
    const fake = await FakeDiscord.start({ channels: [{ id: ALERTS, name: 'alerts' }] });
    fakes.add(fake);
    fake.setRateLimit({
      route: 'POST /channels/:id/messages',
      limit: DISCORD_LIMIT,
      windowMs: DISCORD_WINDOW_MS,
      advertise: true,
    });
    const port = await freePort();
    const proxy = await sendRecorder(port);
    const am = await startAlertmanager({
      webhookUrl: proxy.url,
      token: TOKEN,
      groupWait: '1s',
      groupInterval: '2s',
      groupBy: ['alertname'],
    });
    alertmanagers.add(am);
    const bot = await startBot(fake, { port, alertmanagerUrl: am.url });
    await sleep(IDLE_MS);
    const runs: { pushToSendMs: number; sendToPostMs: number; pushToPostMs: number }[] = [];
    for (let i = 0; i < FIRST_POST_RUNS; i++) {
      const name = `Lone${i}`;
      const t0 = Date.now();
      await am.push([
        { labels: { alertname: name, severity: 'warning', instance: `lone-${i}:9100` } },
      ]);
      const root = () =>
        fake.requests.find(
          (r) =>
            r.at >= t0 &&
            r.status >= 200 &&
            r.status < 300 &&
            r.method === 'POST' &&
            r.path === `/channels/${ALERTS}/messages` &&
            JSON.stringify(r.body).includes(name),
        );
      await fake.waitFor(() => Boolean(root()), 30_000);
      const sentAt = proxy.sends.find((s) => s >= t0)!;
      const postedAt = root()!.at;
      runs.push({
        pushToSendMs: sentAt - t0,
        sendToPostMs: postedAt - sentAt,
        pushToPostMs: postedAt - t0,
      });
      await sleep(FIRST_POST_GAP_MS);
    }
    const problemsSeen = summarizeProblems(problems(bot));
    await stopBot(bot);
    await am.stop();
    alertmanagers.delete(am);
    await proxy.close();
    await fake.stop();
    fakes.delete(fake);

    const stats = (pick: (r: (typeof runs)[number]) => number) => {
      const sorted = runs.map(pick).sort((a, b) => a - b);
      return { median: quantile(sorted, 0.5), max: sorted[sorted.length - 1]! };
    };
    const first = {
      runs: runs.length,
      pushToSendMs: stats((r) => r.pushToSendMs),
      sendToPostMs: stats((r) => r.sendToPostMs),
      pushToPostMs: stats((r) => r.pushToPostMs),
      each: runs,
      botWarnOrError: problemsSeen,
    };
    result.firstPost = first;
    const s = (x: { median: number; max: number }) =>
      `median ${r2(x.median / 1000)} s, max ${r2(x.max / 1000)} s`;
    console.log(
      `first post (${runs.length} lone alerts, Alertmanager group_wait 1 s): push → Alertmanager's send ${s(first.pushToSendMs)}; ` +
        `send → root posted ${s(first.sendToPostMs)}; push → root posted ${s(first.pushToPostMs)}; ` +
        `bot warn/error ${JSON.stringify(problemsSeen)}`,
    );
    expect(runs).toHaveLength(FIRST_POST_RUNS);
  },
);

// ---------------------------------------------------------------------------------------------
// Big groups

const BIG_GROUPS = Number(process.env.BENCH_BIG_GROUPS ?? 200);
const BIG_ALERTS = Number(process.env.BENCH_BIG_ALERTS ?? 2000);
const BIG_NOTIFICATIONS = Number(process.env.BENCH_BIG_NOTIFICATIONS ?? 60);

/** Group g with BIG_ALERTS alerts; the first `resolved` of them resolved. */
function bigPayload(g: number, resolved: number): Buffer {
  const alertname = `Big${g}`;
  const alerts = Array.from({ length: BIG_ALERTS }, (_, i) => {
    const done = i < resolved;
    return {
      status: done ? 'resolved' : 'firing',
      labels: { alertname, instance: `host-${g}-${i}:9100`, job: 'node', severity: 'warning' },
      annotations: { summary: `${alertname} on host-${g}-${i}` },
      startsAt: STARTS_AT,
      endsAt: done ? ENDS_AT : NO_END,
      generatorURL: '',
      fingerprint: `${g.toString(16).padStart(6, '0')}${i.toString(16).padStart(10, '0')}`,
    };
  });
  return Buffer.from(
    JSON.stringify({
      receiver: 'chatops',
      status: 'firing',
      alerts,
      groupLabels: { alertname },
      commonLabels: { alertname, job: 'node', severity: 'warning' },
      commonAnnotations: {},
      externalURL: 'http://alertmanager.lab.example:9093',
      version: '4',
      groupKey: `{}:{alertname="${alertname}"}`,
      truncatedAlerts: 0,
    }),
  );
}

/** Bytes and files of the alert state (groups.json, or index.json + groups/). */
function stateOnDisk(stateDir: string): { bytes: number; files: number } {
  const dir = path.join(stateDir, 'alerts');
  let bytes = 0;
  let files = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'outbox') walk(p);
      } else {
        bytes += statSync(p).size;
        files++;
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return { bytes, files };
}

it.skipIf(!PHASES.has('big'))(
  `big: ${BIG_GROUPS} groups × ${BIG_ALERTS} alerts, ${BIG_NOTIFICATIONS} notifications`,
  async () => {
    const fake = await FakeDiscord.start({ channels: [{ id: ALERTS, name: 'alerts' }] });
    fakes.add(fake);
    const bot = await startBot(fake, { noDelivery: true });
    const pid = bot.child.pid!;
    await sleep(IDLE_MS);
    const idle = memory(pid);

    // Seed: every group once, one request after the other.
    const seedSampler = new Sampler(pid, bot.stateDir);
    const t0 = performance.now();
    const seedAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let g = 0; g < BIG_GROUPS; g++) {
      const s = await postOnce(seedAgent, bot.port, bigPayload(g, 0));
      if (s !== 200) throw new Error(`seeding group ${g}: HTTP ${s}`);
    }
    seedAgent.destroy();
    const seeded = await drain(bot.stateDir);
    const seedMs = Math.round(performance.now() - t0);
    const seedMem = seedSampler.stop();

    // N notifications, each resolving one more alert of a group.
    const bodies = Array.from({ length: BIG_NOTIFICATIONS }, (_, n) =>
      bigPayload(n % BIG_GROUPS, 1 + Math.floor(n / BIG_GROUPS)),
    );
    const sampler = new Sampler(pid, bot.stateDir);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const t1 = performance.now();
    const status: Record<string, number> = {};
    let next = 0;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (next < bodies.length) {
          const s = await postOnce(agent, bot.port, bodies[next++]!);
          status[s] = (status[s] ?? 0) + 1;
        }
      }),
    );
    const ackedMs = Math.round(performance.now() - t1);
    agent.destroy();
    const waitingAfterAck = outboxSize(bot.stateDir);
    const applied = await drain(bot.stateDir);
    const appliedMs = Math.round(performance.now() - t1);
    const mem = sampler.stop();
    const disk = stateOnDisk(bot.stateDir);
    const problemsSeen = summarizeProblems(problems(bot));
    await stopBot(bot);

    // Restart on that state: how long until ready.
    const again = await startBot(fake, { noDelivery: true, stateDir: bot.stateDir });
    const restartReadyMs = again.readyMs;
    const restartRss = memory(again.child.pid!);
    await stopBot(again);

    const big = {
      groups: BIG_GROUPS,
      alertsPerGroup: BIG_ALERTS,
      bodyBytes: bodies[0]!.length,
      idleRssMb: idle.rssMb,
      seedMs,
      seedLeftInOutbox: seeded.leftInOutbox,
      seedPeakRssMb: seedMem.peakRssMb,
      notifications: BIG_NOTIFICATIONS,
      connections: CONNECTIONS,
      status,
      lastAckMs: ackedMs,
      waitingAfterLastAck: waitingAfterAck,
      lastAppliedMs: appliedMs,
      leftInOutbox: applied.leftInOutbox,
      peakRssMb: mem.peakRssMb,
      hwmMb: mem.hwmMb,
      botCpuPercent: mem.botCpuPercent,
      botWrittenMb: mem.botWrittenMb,
      stateBytes: disk.bytes,
      stateFiles: disk.files,
      restartReadyMs,
      restartRssMb: restartRss.rssMb,
      botWarnOrError: problemsSeen,
    };
    result.big = big;
    console.log(
      `big (${BIG_GROUPS} groups × ${BIG_ALERTS} alerts, ${Math.round(big.bodyBytes / 1024)} KiB bodies, no delivery): ` +
        `seeded in ${r1(seedMs / 1000)} s (peak RSS ${seedMem.peakRssMb} MB); ${BIG_NOTIFICATIONS} notifications over ${CONNECTIONS} connections: ` +
        `last 200 at ${r1(ackedMs / 1000)} s (${JSON.stringify(status)}), ${waitingAfterAck} waiting then, last applied at ${r1(appliedMs / 1000)} s` +
        `${applied.leftInOutbox ? ` (NOT done: ${applied.leftInOutbox} left after ${DRAIN_CAP_MS / 1000} s)` : ''}; ` +
        `bot RSS idle ${idle.rssMb} MB, peak ${mem.peakRssMb} MB (VmHWM ${mem.hwmMb} MB), CPU ${mem.botCpuPercent}%, wrote ${mem.botWrittenMb} MB; ` +
        `state ${r1(disk.bytes / 1024 / 1024)} MB in ${disk.files} files; restart on it: ready in ${restartReadyMs} ms, RSS ${restartRss.rssMb} MB; ` +
        `warn/error ${JSON.stringify(problemsSeen)}`,
    );
    await fake.stop();
    fakes.delete(fake);
    expect(applied.leftInOutbox).toBe(0);
    expect(Object.keys(status)).toEqual(['200']);
  },
);
