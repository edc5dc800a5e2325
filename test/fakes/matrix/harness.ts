/**
 * Helpers for tests that drive a real matrix-bot-sdk MatrixClient against the fake homeserver:
 * start both, collect what the client emits, capture the SDK's logs, and clean up so that no
 * client's sync loop outlives its test. Call `resetHarness()` in afterEach.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IStorageProvider, MatrixClient } from 'matrix-bot-sdk';
import { FakeHomeserver, type HomeserverOptions } from './fake-homeserver.js';
import { type LoadedSdk, loadMatrixSdk, type SdkLogSink } from './load-sdk.js';

export const BOT = '@chatops:lab.test';
export const ALICE = '@alice:lab.test';
export const BOB = '@bob:lab.test';
export const OPS = '!ops:lab.test';
export const TOKEN = 'tok';

// biome-ignore lint/suspicious/noExplicitAny: raw Matrix events as the SDK emits them
export type Ev = any;

/** What matrix-bot-sdk logged (route it here with quietSdkLogs(sdk, captureLogs)). */
export const logs: { level: string; module: string; msg: string }[] = [];
export const captureLogs = Object.fromEntries(
  (['trace', 'debug', 'info', 'warn', 'error'] as const).map((level) => [
    level,
    (obj: Record<string, unknown>, msg?: string) =>
      logs.push({ level, module: String(obj.module), msg: msg ?? '' }),
  ]),
) as unknown as SdkLogSink;

const cleanups: (() => unknown)[] = [];
let clientsStarted = 0;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Each MatrixClient's sync loop logs this once when it ends after stop(). */
export const loopsEnded = () =>
  logs.filter((l) => l.msg.startsWith('Client stop requested')).length;

async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  for (const deadline = Date.now() + ms; !predicate(); await sleep(10)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Stops clients, then fakes, removes temp dirs, waits for every sync loop to end. */
export async function resetHarness(): Promise<void> {
  for (const fn of cleanups.reverse()) await fn();
  cleanups.length = 0;
  await until(() => loopsEnded() >= clientsStarted, 2000, 'MatrixClient sync loops to end');
  clientsStarted = 0;
  logs.length = 0;
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fake-hs-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fake with room !ops (alice, bob, the bot); stopped after the test. */
export async function startHs(opts: Partial<HomeserverOptions> = {}): Promise<FakeHomeserver> {
  const hs = await FakeHomeserver.start({
    botUserId: BOT,
    accessToken: TOKEN,
    rooms: [{ roomId: OPS, members: [ALICE, BOB], name: 'Ops', alias: '#ops:lab.test' }],
    profiles: { [ALICE]: 'Alice' },
    ...opts,
  });
  cleanups.push(() => hs.stop());
  return hs;
}

export interface Bot {
  client: MatrixClient;
  messages: [string, Ev][];
  events: [string, Ev][];
  invites: [string, Ev][];
  joins: string[];
  leaves: string[];
}

/** A started MatrixClient whose first /sync has been answered; stopped after the test. */
export async function startBot(
  hs: FakeHomeserver,
  opts: { storage?: IStorageProvider; autojoin?: boolean; filter?: object } = {},
): Promise<Bot> {
  const { sdk } = await loadMatrixSdk();
  const client = new sdk.MatrixClient(
    hs.url,
    TOKEN,
    opts.storage ?? new sdk.MemoryStorageProvider(),
  );
  const bot: Bot = { client, messages: [], events: [], invites: [], joins: [], leaves: [] };
  client.on('room.message', (roomId: string, ev: Ev) => bot.messages.push([roomId, ev]));
  client.on('room.event', (roomId: string, ev: Ev) => bot.events.push([roomId, ev]));
  client.on('room.invite', (roomId: string, ev: Ev) => bot.invites.push([roomId, ev]));
  client.on('room.join', (roomId: string) => bot.joins.push(roomId));
  client.on('room.leave', (roomId: string) => bot.leaves.push(roomId));
  if (opts.autojoin) sdk.AutojoinRoomsMixin.setupOnClient(client);
  const syncsBefore = hs.syncRequests.length;
  await client.start(opts.filter);
  clientsStarted++;
  cleanups.push(() => client.stop());
  await hs.waitFor(() => hs.syncRequests.slice(syncsBefore).some((s) => s.status === 200));
  return bot;
}

/** The [roomId, event] the client emitted for `eventId`, if any. */
export const got = (list: [string, Ev][], eventId: string) =>
  list.find(([, e]) => e.event_id === eventId);

export type { LoadedSdk };
