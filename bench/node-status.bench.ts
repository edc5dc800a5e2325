// `/node status all` over 7 fake nodes, each with its own added latency: is the total close to
// the slowest single host (goal: under 1.5×), i.e. are the nodes really probed in parallel?
// Goes through the bot's code path: nodeStatuses() (src/nodes/status.ts) with a real SshPool
// against test/helpers/ssh-lab.ts (one real sshd per node on 127.0.0.x). Prints a summary and
// one JSON line; asserts correctness only (every host reachable with a temperature), never
// timings. Run with `npm run bench node-status`, or
// `npx vitest run --config bench/vitest.config.ts bench/node-status.bench.ts`.
//
// Latency: the status probe is `sh -c 'cat /proc/uptime /proc/loadavg; free -b; df -P -B1 /'`,
// then `vcgencmd measure_temp` (raspios) or `cat /sys/class/thermal/thermal_zone0/temp` (nixos).
// Raspios nodes get a `vcgencmd` stand-in that sleeps DELAY_MS[node] first. x86 (nixos) gets a
// `cat` stand-in: for the thermal zone it sleeps, then prints 48312 (this machine/container may
// have no /sys/class/thermal, so the real cat would fail there); anything else goes to the real cat.
// Cold = a new SshPool (connect + handshake + login + exec); warm = the same pool again (the
// connection is reused). Figures are medians of BENCH_COLD (3) cold and BENCH_WARM (10) warm
// runs. Last, pi3 (the slowest) is stopped: its connection is refused and the total should stay
// near the slowest live host (pi2). Clocks: process.hrtime in this process.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { afterAll, expect, it } from 'vitest';
import type { NodeConfig } from '../src/config/schema.js';
import { ConfigSchema } from '../src/config/schema.js';
import { silentLogger } from '../src/core/logger.js';
import { SshPool } from '../src/infra/ssh.js';
import { type NodeOps, OperationLock } from '../src/nodes/node-ops.js';
import { type NodeStatus, nodeStatuses } from '../src/nodes/status.js';
import { type SshLab, startSshLab } from '../test/helpers/ssh-lab.js';

const COLD = Number(process.env.BENCH_COLD ?? 3);
const WARM = Number(process.env.BENCH_WARM ?? 10);

/** Added latency per host, ms; pi3 is the slowest. */
const DELAY_MS: Record<string, number> = {
  x86: 400,
  pi5: 100,
  'pi4-a': 200,
  'pi4-b': 300,
  pi1: 500,
  pi2: 600,
  pi3: 700,
};
const RASPIOS = ['pi5', 'pi4-a', 'pi4-b', 'pi1', 'pi2', 'pi3'];

const now = (): bigint => process.hrtime.bigint();
const msSince = (t0: bigint): number => Number(now() - t0) / 1e6;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const sec = (ms: number) => (ms / 1000).toFixed(3);

let lab: SshLab | undefined;
const pools: SshPool[] = [];

afterAll(async () => {
  for (const p of pools) p.close();
  await lab?.stop();
});

function vcgencmd(delayMs: number): string {
  return `if [ "$1" = measure_temp ]; then sleep ${delayMs / 1000}; echo "temp=48.3'C"; exit 0; fi
echo "throttled=0x0"`;
}

function thermalCat(delayMs: number): string {
  return `if [ "$*" = /sys/class/thermal/thermal_zone0/temp ]; then sleep ${delayMs / 1000}; echo 48312; exit 0; fi
exec /usr/bin/cat "$@"`;
}

it('node status: 7 hosts with added latency, total vs slowest single host', async () => {
  lab = await startSshLab({
    nodes: [
      {
        name: 'x86',
        os: 'nixos',
        standIns: { cat: thermalCat(DELAY_MS.x86!) },
      },
      ...RASPIOS.map((name) => ({
        name,
        os: 'raspios' as const,
        standIns: { vcgencmd: vcgencmd(DELAY_MS[name]!) },
      })),
    ],
  });
  const inventory = lab.inventory();
  const defaults = ConfigSchema.parse({}).nodeOps;
  const newOps = (): NodeOps => {
    const ssh = new SshPool({
      privateKeyFile: lab!.privateKeyFile,
      knownHostsFile: lab!.knownHostsFile,
      logger: silentLogger(),
    });
    pools.push(ssh);
    return {
      ssh,
      lock: new OperationLock(),
      config: { ...defaults, statusTimeoutSeconds: 10 },
      playbooksDir: '',
    };
  };
  const timed = async (nodes: NodeConfig[], ops: NodeOps) => {
    const t0 = now();
    const statuses = await nodeStatuses(nodes, ops);
    return { ms: msSince(t0), statuses };
  };
  const checkAllUp = (statuses: NodeStatus[], names: string[]) => {
    expect(statuses.map((s) => s.node)).toEqual(names);
    for (const s of statuses) {
      expect(s, s.node).toMatchObject({ reachable: true });
      expect(s.error, s.node).toBeUndefined();
      expect(typeof s.tempC, `${s.node} tempC`).toBe('number');
      expect(typeof s.memUsedPct, `${s.node} memUsedPct`).toBe('number');
    }
  };
  const names = inventory.map((n) => n.name);
  const loadBefore = loadavg();

  // (a) each host alone: cold (fresh pool) and warm (same pool again).
  const single: Record<string, { delayMs: number; coldMs: number; warmMs: number }> = {};
  for (const node of inventory) {
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < COLD; i++) {
      const ops = newOps();
      const c = await timed([node], ops);
      checkAllUp(c.statuses, [node.name]);
      cold.push(c.ms);
      if (i === 0) {
        for (let j = 0; j < WARM; j++) {
          const w = await timed([node], ops);
          checkAllUp(w.statuses, [node.name]);
          warm.push(w.ms);
        }
      }
      ops.ssh!.close();
    }
    single[node.name] = {
      delayMs: DELAY_MS[node.name]!,
      coldMs: r1(median(cold)),
      warmMs: r1(median(warm)),
    };
  }

  // (b) all 7 together, cold and warm.
  const allCold: number[] = [];
  const allWarm: number[] = [];
  let warmOps: NodeOps | undefined;
  for (let i = 0; i < COLD; i++) {
    const ops = newOps();
    const c = await timed(inventory, ops);
    checkAllUp(c.statuses, names);
    allCold.push(c.ms);
    if (i === COLD - 1) warmOps = ops;
    else ops.ssh!.close();
  }
  for (let j = 0; j < WARM; j++) {
    const w = await timed(inventory, warmOps!);
    checkAllUp(w.statuses, names);
    allWarm.push(w.ms);
  }
  const slowestCold = Object.entries(single).reduce((a, b) => (b[1].coldMs > a[1].coldMs ? b : a));
  const slowestWarm = Object.entries(single).reduce((a, b) => (b[1].warmMs > a[1].warmMs ? b : a));
  const all = { coldMs: r1(median(allCold)), warmMs: r1(median(allWarm)) };
  const ratio = {
    cold: r2(all.coldMs / slowestCold[1].coldMs),
    warm: r2(all.warmMs / slowestWarm[1].warmMs),
  };

  // (c) pi3 stopped: warm pool (its connection is dropped by the power-off) and a fresh pool.
  await lab.node('pi3').stop();
  const live = names.filter((n) => n !== 'pi3');
  const checkDead = (statuses: NodeStatus[]) => {
    checkAllUp(
      statuses.filter((s) => s.node !== 'pi3'),
      live,
    );
    const dead = statuses.find((s) => s.node === 'pi3')!;
    expect(dead.reachable).toBe(false);
    return dead.error ?? '';
  };
  const deadWarm = await timed(inventory, warmOps!);
  const deadWarmError = checkDead(deadWarm.statuses);
  const deadCold = await timed(inventory, newOps());
  const deadColdError = checkDead(deadCold.statuses);
  const slowestLive = live.reduce((a, b) => (single[b]!.warmMs > single[a]!.warmMs ? b : a));
  const pi2 = single[slowestLive]!;
  const oneDown = {
    slowestLive,
    warmMs: r1(deadWarm.ms),
    warmRatio: r2(deadWarm.ms / pi2.warmMs),
    warmError: deadWarmError,
    coldMs: r1(deadCold.ms),
    coldRatio: r2(deadCold.ms / pi2.coldMs),
    coldError: deadColdError,
  };

  const loadAfter = loadavg();
  console.log(
    `\nnode status bench (${cpus().length} cores, load ${loadBefore.join(' ')} → ${loadAfter.join(' ')}; medians of ${COLD} cold / ${WARM} warm)`,
  );
  for (const [name, s] of Object.entries(single)) {
    console.log(
      `  ${name.padEnd(6)} +${String(s.delayMs).padStart(3)} ms alone: cold ${sec(s.coldMs)} s, warm ${sec(s.warmMs)} s`,
    );
  }
  console.log(
    `  all 7: cold ${sec(all.coldMs)} s = ${ratio.cold}× slowest single (${slowestCold[0]} ${sec(slowestCold[1].coldMs)} s); ` +
      `warm ${sec(all.warmMs)} s = ${ratio.warm}× slowest single (${slowestWarm[0]} ${sec(slowestWarm[1].warmMs)} s); goal < 1.5×`,
  );
  console.log(
    `  pi3 stopped: warm pool ${sec(oneDown.warmMs)} s = ${oneDown.warmRatio}× ${slowestLive} alone ("${deadWarmError}"); ` +
      `fresh pool ${sec(oneDown.coldMs)} s = ${oneDown.coldRatio}× ("${deadColdError}")`,
  );
  console.log(
    JSON.stringify({
      bench: 'node-status',
      cores: cpus().length,
      loadavgBefore: loadBefore,
      loadavgAfter: loadAfter,
      coldRuns: COLD,
      warmRuns: WARM,
      single,
      all,
      slowestSingle: { cold: slowestCold[0], warm: slowestWarm[0] },
      ratio,
      goalRatio: 1.5,
      oneDown,
    }),
  );
});
