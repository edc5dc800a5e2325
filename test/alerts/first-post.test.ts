import { describe, expect, it } from 'vitest';
import { AlertService } from '../../src/alerts/alert-service.js';
import { AlertRoutesSchema } from '../../src/alerts/router.js';
import type { SettleClock } from '../../src/alerts/settle-window.js';
import { silentLogger } from '../../src/core/logger.js';
import { tempStateDir } from '../helpers/cli.js';
import { RecordingPublisher } from '../helpers/recording-publisher.js';
import { simple } from './pipeline-helpers.js';

/** A clock that moves only when the test says so; sleeps end when it reaches them. */
class ManualClock implements SettleClock {
  private t = 0;
  private readonly sleepers: { until: number; wake: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((wake) => {
      this.sleepers.push({ until: this.t + ms, wake });
      signal.addEventListener('abort', () => wake(), { once: true });
    });
  }

  /** Passes waiting for their window's end. */
  get sleeping(): number {
    return this.sleepers.length;
  }

  advance(ms: number): void {
    this.t += ms;
    for (const s of this.sleepers.filter((x) => x.until <= this.t)) {
      this.sleepers.splice(this.sleepers.indexOf(s), 1);
      s.wake();
    }
  }
}

const routes = AlertRoutesSchema.parse({ default: { to: [{ console: true }] } });

function service(
  chat: RecordingPublisher,
  clock: ManualClock,
  rollupThreshold = 3,
  stateDir = tempStateDir(),
) {
  return new AlertService({
    stateDir,
    routes,
    rollupThreshold,
    publisher: () => chat,
    log: silentLogger(),
    settleMs: 1000,
    settleClock: clock,
    limits: { console: { maxConcurrent: 1, minTime: 0 } },
  });
}

/** Every notification accepted so far is applied, and delivery waits for the window's end. */
async function waitingForWindow(s: AlertService, clock: ManualClock): Promise<void> {
  await expect.poll(() => s.waiting() === 0 && clock.sleeping === 1).toBe(true);
}

describe('the first post of a quiet period', () => {
  it('posts a lone alert without waiting for the window; what follows within it comes together', async () => {
    const chat = new RecordingPublisher();
    const clock = new ManualClock();
    const s = service(chat, clock);
    await s.start();
    await s.accept(simple('Lone'));
    await s.settled(); // the clock never moved: nothing waited
    expect(chat.roots.map((r) => r.reply.title)).toEqual(['[FIRING:1] Lone']);
    expect(clock.sleeping).toBe(0);

    // Within the window: held until it ends, then posted together (below the threshold).
    await s.accept(simple('Second'));
    await s.accept(simple('Third'));
    await waitingForWindow(s, clock);
    expect(chat.roots).toHaveLength(1);
    clock.advance(1000);
    await s.settled();
    expect(chat.roots.map((r) => r.reply.title)).toEqual([
      '[FIRING:1] Lone',
      '[FIRING:1] Second',
      '[FIRING:1] Third',
    ]);

    // A quiet period later: at once again.
    clock.advance(5000);
    await s.accept(simple('Later'));
    await s.settled();
    expect(chat.roots.at(-1)!.reply.title).toBe('[FIRING:1] Later');
    await s.stop();
  });

  it('an update of the alert posted alone waits for the window, then goes to its thread', async () => {
    const chat = new RecordingPublisher();
    const clock = new ManualClock();
    const s = service(chat, clock);
    await s.start();
    await s.accept(simple('Flappy'));
    await s.settled();
    await s.accept(simple('Flappy', 'resolved'));
    await waitingForWindow(s, clock);
    expect(chat.thread('1')).toEqual([]);
    clock.advance(1000);
    await s.settled();
    expect(chat.current('1').title).toBe('[RESOLVED] Flappy');
    expect(chat.thread('1').map((r) => r.title ?? r.text)).toEqual([
      expect.stringMatching(/^✅ Group resolved after/),
    ]);
    await s.stop();
  });

  it('a storm after a lone first group still rolls up: that root becomes the roll-up, listing every group', async () => {
    const chat = new RecordingPublisher();
    const clock = new ManualClock();
    const s = service(chat, clock, 3);
    await s.start();
    await s.accept(simple('Storm0'));
    await s.settled();
    expect(chat.roots.map((r) => r.reply.title)).toEqual(['[FIRING:1] Storm0']);
    // 1 posted alone + 3 in the window = 4 new groups > rollupThreshold 3.
    for (const n of ['Storm1', 'Storm2', 'Storm3']) await s.accept(simple(n));
    await waitingForWindow(s, clock);
    clock.advance(1000);
    await s.settled();

    expect(chat.roots).toHaveLength(1); // still one message: the first root, edited
    const rollup = chat.current('1');
    expect(rollup.title).toMatch(/4/);
    expect(rollup.buttons ?? []).toEqual([]);
    const details = chat.thread('1')[0]!.code!;
    for (let i = 0; i < 4; i++) expect(details).toContain(`Storm${i}:9100`);

    // Later changes of any of them go to the roll-up's thread.
    clock.advance(5000);
    for (const n of ['Storm0', 'Storm2']) await s.accept(simple(n, 'resolved'));
    await expect.poll(() => s.waiting()).toBe(0);
    clock.advance(1000);
    await s.settled();
    const posts = chat
      .thread('1')
      .slice(1)
      .map((p) => p.code ?? p.text)
      .join('\n');
    expect(posts).toContain('A-1: ✅ Group resolved'); // Storm0, the root posted alone
    expect(posts).toContain('A-3: ✅ Group resolved');
    await s.stop();
  });

  it('stop does not wait for the window to end; what was waiting is delivered after the next start', async () => {
    const chat = new RecordingPublisher();
    const clock = new ManualClock();
    const dir = tempStateDir();
    const s = service(chat, clock, 3, dir);
    await s.start();
    await s.accept(simple('First'));
    await s.settled();
    await s.accept(simple('Held'));
    await waitingForWindow(s, clock);
    await s.stop(); // the clock never reaches the window's end
    expect(chat.roots.map((r) => r.reply.title)).toEqual(['[FIRING:1] First']);

    // A new service on the same state: the held group is still to deliver, at once.
    const next = new RecordingPublisher();
    const restarted = service(next, new ManualClock(), 3, dir);
    await restarted.start();
    await restarted.settled();
    expect(next.roots.map((r) => r.reply.title)).toEqual(['[FIRING:1] Held']);
    await restarted.stop();
  });
});
