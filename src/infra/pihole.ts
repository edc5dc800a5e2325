/**
 * Pi-hole v6 REST API, for several instances (pi1–pi3). Every operation acts on each selected
 * instance and reports per instance: one that is down or refuses does not stop the others.
 * Each instance has its own session (pihole-session.ts) over its HTTP layer (pihole-http.ts).
 */
import { UserError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { didYouMean } from '../core/suggest.js';
import { type DomainList, piholeCalls } from './pihole-calls.js';
import { httpError, PiholeError } from './pihole-errors.js';
import { PiholeSession } from './pihole-session.js';

/** The calls as plans show them (commands/pihole.ts, the demo). */
export { type ApiCall, callLine, type DomainList, piholeCalls } from './pihole-calls.js';

export interface PiholeInstanceConfig {
  name: string;
  url: string;
  /** The app password; none for a Pi-hole without a password. */
  password?: string | undefined;
}

export interface PiholeStatus {
  blocking: 'enabled' | 'disabled' | 'failed' | 'unknown';
  /** Seconds until blocking changes back (Pi-hole's own timer), or null. */
  timer: number | null;
  queriesToday: number;
  blockedToday: number;
  percentBlocked: number;
  domainsOnBlockList: number;
  /** Last gravity update (ms since epoch), when known. */
  gravityUpdatedAt: number | null;
}

export type InstanceResult<T> =
  | { instance: string; ok: true; value: T }
  | { instance: string; ok: false; error: string; hint?: string };

export interface PiholeClientOptions {
  instances: readonly PiholeInstanceConfig[];
  timeoutMs: number;
  logger: Logger;
}

export class PiholeClient {
  private readonly instances: PiholeSession[];
  private readonly log: Logger;

  constructor(opts: PiholeClientOptions) {
    this.log = opts.logger;
    this.instances = opts.instances.map(
      (i) => new PiholeSession(i.name, i.url, i.password, opts.timeoutMs, opts.logger),
    );
  }

  names(): string[] {
    return this.instances.map((i) => i.name);
  }

  /** The instances an operation acts on: all, or the one named (a UserError when unknown). */
  targets(instance?: string): { name: string; url: string }[] {
    return this.select(instance).map((i) => ({ name: i.name, url: i.url }));
  }

  private select(instance?: string): PiholeSession[] {
    if (instance === undefined || instance === 'all') return this.instances;
    const found = this.instances.find((i) => i.name === instance);
    if (!found) {
      throw new UserError(
        `There is no Pi-hole "${instance}".${didYouMean(instance, this.names())}`,
        `Pi-holes: ${this.names().join(', ')} (or leave it out for all).`,
      );
    }
    return [found];
  }

  /** Runs `fn` on each instance at once; failures are reported, not thrown. */
  private async each<T>(
    instance: string | undefined,
    fn: (i: PiholeSession) => Promise<T>,
  ): Promise<InstanceResult<T>[]> {
    const targets = this.select(instance);
    return Promise.all(
      targets.map(async (i): Promise<InstanceResult<T>> => {
        try {
          return { instance: i.name, ok: true, value: await fn(i) };
        } catch (err) {
          if (err instanceof PiholeError) {
            return { instance: i.name, ok: false, error: err.message, hint: err.hint };
          }
          this.log.warn({ instance: i.name, err }, 'pihole request failed');
          return { instance: i.name, ok: false, error: (err as Error).message };
        }
      }),
    );
  }

  status(instance?: string): Promise<InstanceResult<PiholeStatus>[]> {
    return this.each(instance, async (i) => {
      const [blocking, summary] = await Promise.all([
        i.json<{ blocking: PiholeStatus['blocking']; timer: number | null }>(
          { method: 'GET', path: '/api/dns/blocking' },
          'reading the blocking state',
        ),
        i.json<Summary>({ method: 'GET', path: '/api/stats/summary' }, 'reading the statistics'),
      ]);
      return {
        blocking: blocking.blocking,
        timer: blocking.timer ?? null,
        queriesToday: summary.queries?.total ?? 0,
        blockedToday: summary.queries?.blocked ?? 0,
        percentBlocked: summary.queries?.percent_blocked ?? 0,
        domainsOnBlockList: summary.gravity?.domains_being_blocked ?? 0,
        gravityUpdatedAt: summary.gravity?.last_update ? summary.gravity.last_update * 1000 : null,
      };
    });
  }

  /** Blocking on or off; `timerSeconds` makes Pi-hole switch it back by itself. */
  setBlocking(
    enabled: boolean,
    timerSeconds: number | null,
    instance?: string,
  ): Promise<InstanceResult<{ blocking: string; timer: number | null }>[]> {
    return this.each(instance, async (i) => {
      const r = await i.json<{ blocking: string; timer: number | null }>(
        piholeCalls.setBlocking(enabled, timerSeconds),
        `${enabled ? 'enabling' : 'disabling'} blocking`,
      );
      return { blocking: r.blocking, timer: r.timer ?? null };
    });
  }

  /** Adds an exact domain to the allow or deny list; `added: false` when it was there already. */
  addDomain(
    list: DomainList,
    domain: string,
    comment: string,
    instance?: string,
  ): Promise<InstanceResult<{ added: boolean }>[]> {
    return this.each(instance, async (i) => {
      const res = await i.request(piholeCalls.addDomain(list, domain, comment));
      if (!res.ok) throw await httpError(`adding ${domain} to the ${list} list`, res);
      const json = (await res.json()) as {
        processed?: { success?: unknown[]; errors?: { item?: string; error?: string }[] };
      };
      const errors = json.processed?.errors ?? [];
      if (errors.length) {
        const msg = errors[0]?.error ?? 'refused';
        if (/UNIQUE/i.test(msg)) return { added: false };
        throw new PiholeError(`adding ${domain} to the ${list} list was refused: ${msg}.`);
      }
      return { added: true };
    });
  }

  /** Removes an exact domain from a list; `removed: false` when it was not there. */
  removeDomain(
    list: DomainList,
    domain: string,
    instance?: string,
  ): Promise<InstanceResult<{ removed: boolean }>[]> {
    return this.each(instance, async (i) => {
      const res = await i.request(piholeCalls.removeDomain(list, domain));
      if (res.status === 404) {
        res.discard();
        return { removed: false };
      }
      if (!res.ok) throw await httpError(`removing ${domain} from the ${list} list`, res);
      res.discard();
      return { removed: true };
    });
  }

  /**
   * Updates gravity (the block lists) on each instance, one line of Pi-hole's output at a
   * time. The timeout applies between lines: a long update is fine while it keeps talking.
   */
  gravity(
    onLine: (instance: string, line: string) => void,
    instance?: string,
    idleTimeoutMs = 120_000,
  ): Promise<InstanceResult<{ lines: number }>[]> {
    return this.each(instance, async (i) => {
      const res = await i.request(piholeCalls.gravity(), 24 * 3600_000);
      if (!res.ok) throw await httpError('updating gravity', res);
      const reader = res.chunks();
      let buf = '';
      let lines = 0;
      const emit = (raw: string) => {
        const line = cleanLine(raw);
        if (!line) return;
        lines++;
        onLine(i.name, line);
      };
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const idle = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new PiholeError(
                  `gravity stopped talking for ${Math.round(idleTimeoutMs / 1000)} s.`,
                ),
              ),
            idleTimeoutMs,
          );
        });
        let chunk: IteratorResult<string>;
        try {
          chunk = await Promise.race([reader.next(), idle]);
        } catch (err) {
          res.discard();
          throw err;
        } finally {
          clearTimeout(timer);
        }
        if (chunk.done) break;
        buf += chunk.value;
        const parts = buf.split(/\r?\n|\r/);
        buf = parts.pop() ?? '';
        for (const p of parts) emit(p);
      }
      emit(buf);
      return { lines };
    });
  }

  /** Logs every session out (Pi-hole has few seats). */
  async close(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.logout()));
  }
}

interface Summary {
  queries?: { total?: number; blocked?: number; percent_blocked?: number };
  gravity?: { domains_being_blocked?: number; last_update?: number };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes in gravity output
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

function cleanLine(raw: string): string {
  return raw.replace(ANSI, '').trim();
}
