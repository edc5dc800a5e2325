// Command round trip through each chat adapter on loopback, and the bot's memory with both
// adapters connected. Runs the built CLI (dist/src/main.js, as a separate process) against the
// test doubles FakeDiscord and FakeHomeserver started in this process; prints a summary and one
// JSON line. Run with `npm run bench adapters` (or `node bench/run.mjs adapters` after a build).
//
// Round trip = from the moment the user's event is handed to the fake (just before
// `fake.slashCommand` dispatches INTERACTION_CREATE on the gateway socket / `hs.sendMessage`
// stores the `!command` event, which wakes the bot's pending /sync long-poll) to the moment the
// fake has recorded the bot's first answer to that command:
// - Discord: the interaction callback (POST /interactions/:id/:token/callback) has been handled
//   and put into `fake.requests` (public) — `push` of that array is wrapped on this instance to
//   take the time, instead of polling;
// - Matrix: the bot's first event with `m.in_reply_to` = the command's event id has been stored
//   (`hs.store.onChange`, the hook `hs.waitFor` uses).
// Clocks: process.hrtime in this process. Sequential: the next command goes when the previous
// one has its answer. Env: BENCH_N (200) commands per adapter after BENCH_WARMUP (5) warm-ups,
// BENCH_IDLE_MS (2000) idle before sampling RSS, BENCH_BOT_NODE_OPTIONS (NODE_OPTIONS of the bot),
// BENCH_CLI (dist/src/main.js) the bot's entry point, e.g. a build of another commit,
// BENCH_CHATS (discord,matrix) which adapters the bot connects (one alone: its own footprint),
// BENCH_BOT_NODE_ARGS node flags on the bot's command line (e.g. `--no-opt --no-maglev`).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  FakeDiscord,
  type RecordedRequest,
  snowflake,
} from '../test/fakes/discord/fake-discord.js';
import { FakeHomeserver } from '../test/fakes/matrix/fake-homeserver.js';
import { discordChat, matrixChat } from '../test/helpers/app-fixture.js';

const N = Number(process.env.BENCH_N ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 2000);
/**
 * NODE_OPTIONS for the bot, e.g. the Deployment's `--max-old-space-size=256` with
 * `--max-semi-space-size=2` (docs/benchmarks.md: what V8's heap sizing adds to RSS).
 */
const BOT_NODE_OPTIONS = process.env.BENCH_BOT_NODE_OPTIONS ?? '';
/** Node flags for the bot on its command line (V8 flags NODE_OPTIONS refuses, e.g. `--no-opt`). */
const BOT_NODE_ARGS = (process.env.BENCH_BOT_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const ANSWER_TIMEOUT_MS = 10_000;
const CHATS = new Set((process.env.BENCH_CHATS ?? 'discord,matrix').split(',').filter(Boolean));
const CHATS_LABEL = [...CHATS].map((c) => c[0]!.toUpperCase() + c.slice(1)).join(' + ');
const CLI = process.env.BENCH_CLI ?? path.resolve(import.meta.dirname, '../dist/src/main.js');

const OPS_CHANNEL = snowflake();
const ALICE = snowflake();
const BOT_MXID = '@chatops:lab.test';
const ALICE_MXID = '@alice:lab.test';
const OPS_ROOM = '!ops:lab.test';

const now = (): bigint => process.hrtime.bigint();
const msSince = (t0: bigint, t1: bigint = now()): number => Number(t1 - t0) / 1e6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** 1/5/15-minute load averages: other work on the machine makes the tail figures noisy. */
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

/** Nearest-rank quantile, like bench/task-add.mjs. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
const r2 = (x: number) => Math.round(x * 100) / 100;

function stats(xs: number[]) {
  return {
    n: xs.length,
    minMs: r2(Math.min(...xs)),
    medianMs: r2(quantile(xs, 0.5)),
    p95Ms: r2(quantile(xs, 0.95)),
    p99Ms: r2(quantile(xs, 0.99)),
    maxMs: r2(Math.max(...xs)),
  };
}

/** VmRSS (resident now), VmHWM (peak resident), RssAnon (heap and other private memory), in MB. */
function memory(pid: number): { rssMb: number; hwmMb: number; anonMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return {
    rssMb: r2(kb('VmRSS') / 1024),
    hwmMb: r2(kb('VmHWM') / 1024),
    anonMb: r2(kb('RssAnon') / 1024),
  };
}

/** `wait(key)` resolves with the time `fire(key)` was (or will be) called; times out loudly. */
class Waiters {
  private readonly pending = new Map<string, (t: bigint) => void>();
  /** Answers that came for keys nobody waits for (yet): their arrival time. */
  private readonly early = new Map<string, bigint>();

  fire(key: string, t: bigint): void {
    const resolve = this.pending.get(key);
    if (resolve) {
      this.pending.delete(key);
      resolve(t);
    } else if (!this.early.has(key)) {
      this.early.set(key, t);
    }
  }

  wait(key: string, what: () => string): Promise<bigint> {
    const early = this.early.get(key);
    if (early !== undefined) {
      this.early.delete(key);
      return Promise.resolve(early);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms to ${key}\n${what()}`));
      }, ANSWER_TIMEOUT_MS);
      this.pending.set(key, (t) => {
        clearTimeout(timer);
        resolve(t);
      });
    });
  }
}

interface Bot {
  child: ChildProcess;
  readyMs: number;
  /** Parsed stderr log lines (pino JSON); others as { raw }. */
  lines: Record<string, unknown>[];
}

function startBot(configFile: string): Promise<Bot> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(process.execPath, [...BOT_NODE_ARGS, CLI, '--config', configFile], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...(BOT_NODE_OPTIONS ? { NODE_OPTIONS: BOT_NODE_OPTIONS } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const bot: Bot = { child, readyMs: 0, lines: [] };
    let buf = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          parsed = { raw: line };
        }
        bot.lines.push(parsed);
        if (parsed.msg === 'ready' && !bot.readyMs) {
          bot.readyMs = msSince(t0);
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

function stopBot(child: ChildProcess): Promise<number | string | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode ?? child.signalCode);
      return;
    }
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', (code, signal) => {
      clearTimeout(kill);
      resolve(code ?? signal);
    });
    child.kill('SIGTERM');
  });
}

let discord: FakeDiscord | undefined;
let hs: FakeHomeserver | undefined;
let bot: Bot | undefined;
let dir: string | undefined;

/** For failures: is the bot still running, and its last log lines. */
function botState(): string {
  if (!bot) return 'bot: not started';
  const { child, lines } = bot;
  const status =
    child.exitCode !== null || child.signalCode !== null
      ? `exited (${child.exitCode ?? child.signalCode})`
      : 'running';
  const tail = lines.slice(-10).map((l) => `  ${JSON.stringify(l).slice(0, 500)}`);
  return [`bot: ${status}; last log lines:`, ...tail].join('\n');
}

afterAll(async () => {
  if (bot) await stopBot(bot.child);
  await discord?.stop();
  await hs?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('command round trip through Discord and Matrix, and RSS with both connected', async () => {
  const loadAtStart = loadavg();
  discord = await FakeDiscord.start({
    channels: [{ id: OPS_CHANNEL, name: 'ops' }],
    users: [{ id: ALICE, username: 'alice' }],
  });
  hs = await FakeHomeserver.start({
    botUserId: BOT_MXID,
    accessToken: 'tok',
    rooms: [{ roomId: OPS_ROOM, members: [ALICE_MXID] }],
    profiles: { [ALICE_MXID]: 'Alice' },
  });
  const fake = discord;
  const homeserver = hs;

  // Discord: time the moment the fake records an interaction callback.
  const discordAnswers = new Waiters();
  const requests = fake.requests;
  const callbackPath = /^\/interactions\/(\d+)\/[^/]+\/callback$/;
  Object.defineProperty(requests, 'push', {
    configurable: true,
    value: (...items: RecordedRequest[]): number => {
      const t = now();
      for (const r of items) {
        const id = r.method === 'POST' ? callbackPath.exec(r.path)?.[1] : undefined;
        if (id) discordAnswers.fire(id, t);
      }
      return Array.prototype.push.apply(requests, items);
    },
  });

  // Matrix: time the moment the fake stores the bot's first reply to a command event.
  const matrixAnswers = new Waiters();
  const room = homeserver.store.mustRoom(OPS_ROOM);
  let seen = room.timeline.length;
  homeserver.store.onChange(() => {
    const t = now();
    for (; seen < room.timeline.length; seen++) {
      const { event, viaApi } = room.timeline[seen]!;
      if (!viaApi || event.sender !== BOT_MXID) continue;
      const rel = event.content['m.relates_to'] as
        | { 'm.in_reply_to'?: { event_id?: string } }
        | undefined;
      const to = rel?.['m.in_reply_to']?.event_id;
      if (to) matrixAnswers.fire(to, t);
    }
  });

  dir = mkdtempSync(path.join(tmpdir(), 'bench-adapters-'));
  const configFile = path.join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    stringify({
      state: { dir: path.join(dir, 'state') },
      log: { level: 'info' },
      http: { enabled: false },
      chat: {
        console: { enabled: false },
        ...(CHATS.has('discord')
          ? { discord: discordChat(fake, { channels: [OPS_CHANNEL] }) }
          : {}),
        ...(CHATS.has('matrix') ? { matrix: matrixChat(homeserver, [OPS_ROOM]) } : {}),
      },
      inventory: {
        nodes: [{ name: 'pi4-a', host: '127.0.0.1', os: 'raspios', k3sName: 'pi4-a' }],
      },
      access: {
        roles: {
          ops: { members: [`discord:${ALICE}`, `matrix:${ALICE_MXID}`], allow: ['*'] },
        },
      },
    }),
  );

  bot = await startBot(configFile);
  const pid = bot.child.pid!;
  const readyMs = Math.round(bot.readyMs);
  await sleep(IDLE_MS);
  const idle = memory(pid);
  const linesAtIdle = bot.lines.length;

  // Discord: /node list, one after the other.
  const discordMs: number[] = [];
  const interactions: string[] = [];
  let discordColdMs = 0;
  for (let k = 0; CHATS.has('discord') && k < WARMUP + N; k++) {
    const t0 = now();
    const i = await fake.slashCommand({
      user: ALICE,
      channelId: OPS_CHANNEL,
      name: 'node',
      subcommand: 'list',
    });
    const t1 = await discordAnswers.wait(i.id, () => `${botState()}\n${fake.dump()}`);
    const ms = msSince(t0, t1);
    if (k === 0) discordColdMs = ms;
    if (k >= WARMUP) {
      discordMs.push(ms);
      interactions.push(i.id);
    }
  }
  // The fake's own figure (Date.now(), 1 ms steps): callback recorded − INTERACTION_CREATE sent.
  const views = interactions.map((id) => fake.interactionResponse(id));
  const ackAfterMs = views.map((v) => v.ackAfterMs ?? Number.NaN);

  // Matrix: !node list, one after the other.
  const matrixMs: number[] = [];
  const commandEvents: string[] = [];
  let matrixColdMs = 0;
  for (let k = 0; CHATS.has('matrix') && k < WARMUP + N; k++) {
    const t0 = now();
    const eventId = homeserver.sendMessage(OPS_ROOM, ALICE_MXID, '!node list');
    const t1 = await matrixAnswers.wait(eventId, () => `${botState()}\n${homeserver.dump()}`);
    const ms = msSince(t0, t1);
    if (k === 0) matrixColdMs = ms;
    if (k >= WARMUP) {
      matrixMs.push(ms);
      commandEvents.push(eventId);
    }
  }

  await sleep(500); // let the last answers' aftermath (gateway/sync echoes) settle
  const after = memory(pid);
  await sleep(IDLE_MS);
  const settled = memory(pid);
  const commands = CHATS.size * (WARMUP + N);
  const linesPerCommand = (bot.lines.length - linesAtIdle) / commands;

  // Correctness: every command got the answer a user would expect.
  const discordOk = views.every(
    (v) =>
      v.acknowledged &&
      v.responseType === 4 &&
      !v.ephemeral &&
      !v.timedOut &&
      String(v.embeds[0]?.title) === '1 nodes' &&
      String(v.embeds[0]?.description).includes('pi4-a'),
  );
  const visible = homeserver.visible(OPS_ROOM);
  const matrixOk = commandEvents.every((id) => {
    const answers = visible.filter((m) => m.sender === BOT_MXID && m.replyTo === id);
    return (
      answers.length === 1 && /1 nodes/.test(answers[0]!.body) && /pi4-a/.test(answers[0]!.body)
    );
  });
  const problems = bot.lines.filter((l) => typeof l.level !== 'number' || l.level >= 40);

  const exit = await stopBot(bot.child);
  bot = undefined;

  const result = {
    bench: 'adapters',
    node: process.version,
    n: N,
    warmup: WARMUP,
    chats: [...CHATS],
    readyMs,
    idleRssMb: idle.rssMb,
    idleHwmMb: idle.hwmMb,
    idleAnonMb: idle.anonMb,
    afterRssMb: after.rssMb,
    afterHwmMb: after.hwmMb,
    afterAnonMb: after.anonMb,
    settledRssMb: settled.rssMb,
    discord: discordMs.length && {
      ...stats(discordMs),
      coldMs: r2(discordColdMs),
      fakeAckAfterMedianMs: quantile(ackAfterMs, 0.5),
    },
    matrix: matrixMs.length && { ...stats(matrixMs), coldMs: r2(matrixColdMs) },
    logLinesPerCommand: r2(linesPerCommand),
    warnOrErrorLines: problems.length,
    botExit: exit,
    fakeDiscordUnhandled: fake.unhandled.length,
    fakeDiscordRateLimited: fake.stats.rateLimited,
    fakeHomeserverUnhandled: homeserver.unhandled.length + homeserver.errors.length,
    loadavgAtStart: loadAtStart,
    loadavgAtEnd: loadavg(),
    ok: discordOk && matrixOk,
  };
  const d = result.discord;
  const m = result.matrix;
  console.log(
    `idle RSS with ${CHATS_LABEL} connected: ${idle.rssMb} MB (HWM ${idle.hwmMb} MB), target ≤ 100 MB; ` +
      `after ${commands} commands: ${after.rssMb} MB (HWM ${after.hwmMb} MB), ` +
      `${IDLE_MS / 1000} s later: ${settled.rssMb} MB`,
  );
  if (d)
    console.log(
      `Discord /node list round trip (INTERACTION_CREATE → callback), ${N} sequential: ` +
        `median ${d.medianMs} ms, p95 ${d.p95Ms} ms, p99 ${d.p99Ms} ms, max ${d.maxMs} ms (first, cold: ${d.coldMs} ms)`,
    );
  if (m)
    console.log(
      `Matrix !node list round trip (event → reply event), ${N} sequential: ` +
        `median ${m.medianMs} ms, p95 ${m.p95Ms} ms, p99 ${m.p99Ms} ms, max ${m.maxMs} ms (first, cold: ${m.coldMs} ms)`,
    );
  console.log(
    `answers ${result.ok ? 'all as expected' : 'NOT as expected'}; bot log: ${result.logLinesPerCommand} lines/command, ` +
      `${problems.length} warn/error lines; bot exit on SIGTERM: ${exit}; ` +
      `load average ${result.loadavgAtStart.join(' ')} → ${result.loadavgAtEnd.join(' ')} (${cpus().length} CPUs)`,
  );
  for (const p of problems.slice(0, 5)) console.log(`  bot: ${JSON.stringify(p).slice(0, 300)}`);
  console.log(JSON.stringify(result));

  expect({ discordOk, matrixOk }).toEqual({ discordOk: true, matrixOk: true });
  expect(fake.unhandled).toEqual([]);
  expect([...homeserver.unhandled, ...homeserver.errors]).toEqual([]);
});
