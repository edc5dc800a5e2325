import { z } from 'zod';
import { defineAction, defineCommand, type OptionDef } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { UserError } from '../src/core/errors.js';
import { userLabel } from '../src/core/invocation.js';
import { type OutcomeWording, outcomeReply } from '../src/core/outcome-reply.js';
import type { Plan } from '../src/core/reply.js';
import type { PiholeApi } from '../src/core/services.js';
import { labAsks } from '../src/demo/lab-asks.js';
import { demoAware } from '../src/demo/no-lab.js';
import {
  type ApiCall,
  callLine,
  type DomainList,
  type PiholeStatus,
  piholeCalls,
} from '../src/infra/pihole.js';

/** A DNS name: labels of letters, digits and dashes, dot-separated, at least two labels. */
const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const DURATION = /^(\d{1,5})(s|m|h|d)?$/;
const MAX_SECONDS = 24 * 3600;
const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `30s`, `5m`, `1h`, `1d` → seconds (1 s to 1 day); a UserError otherwise. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim().toLowerCase());
  const secs = m ? Number(m[1]) * UNIT[m[2] ?? 's']! : Number.NaN;
  if (!m || secs < 1 || secs > MAX_SECONDS) {
    throw new UserError(
      `"${text}" is not a duration from 1s to 1d.`,
      'Write it like 30s, 5m, 1h (at most 1 day). For longer, disable without a timer on the Pi-hole itself.',
    );
  }
  return secs;
}

export function formatSeconds(s: number): string {
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${t % 60 ? ` ${t % 60}s` : ''}`;
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  return `${h}h${m ? ` ${m}m` : ''}`;
}

const domainSchema = z
  .string()
  .trim()
  .refine((d) => HOSTNAME.test(d), {
    message:
      'a domain name like ads.example.com (letters, digits, dashes and dots; no spaces, no http://, no path)',
  });

const domainOption: OptionDef = {
  name: 'domain',
  description: 'A domain name, e.g. ads.example.com',
  type: 'string',
  required: true,
  schema: domainSchema,
};

const instanceOption: OptionDef = {
  name: 'instance',
  description: 'One Pi-hole (default: all of them)',
  type: 'string',
  schema: z.string().regex(/^[a-z0-9-]+$/, 'a Pi-hole name like pi1'),
};

type InstanceArgs = { instance?: string };
type DisableArgs = InstanceArgs & { duration?: string };
type DomainArgs = { domain: string };

/** How a multi-instance action is reported: `done`/`notDone` as in {@link OutcomeWording}. */
const said = (done: string, notDone: string): OutcomeWording => ({
  done,
  notDone,
  noun: 'Pi-hole',
});

const client = (ctx: CommandContext): PiholeApi => ctx.services.pihole();

/** The exact calls for each targeted instance (with the login the first call needs). */
function callPlan(ctx: CommandContext, instance: string | undefined, call: ApiCall): string[] {
  return client(ctx)
    .targets(instance)
    .map((t) => `${t.name}: ${callLine(t.url, call)}`);
}

function plan(
  ctx: CommandContext,
  summary: string,
  instance: string | undefined,
  calls: ApiCall[],
): Plan {
  const steps = calls.flatMap((c) => callPlan(ctx, instance, c));
  return {
    summary,
    steps,
    warnings: [
      'Each call carries the instance session (X-FTL-SID); a session is opened first when there is none (POST /api/auth).',
    ],
  };
}

function statusLine(s: PiholeStatus, now: number): string {
  const blocking =
    s.blocking === 'disabled'
      ? `blocking OFF${s.timer ? ` (back on in ${formatSeconds(s.timer)})` : ' (no timer)'}`
      : s.blocking === 'enabled'
        ? `blocking on${s.timer ? ` (goes off in ${formatSeconds(s.timer)})` : ''}`
        : `blocking ${s.blocking}`;
  const gravity = s.gravityUpdatedAt
    ? `${new Date(s.gravityUpdatedAt).toISOString().slice(0, 16).replace('T', ' ')} UTC (${formatSeconds(Math.max(0, (now - s.gravityUpdatedAt) / 1000))} ago)`
    : 'never';
  return [
    blocking,
    `${s.queriesToday.toLocaleString('en-US')} queries today, ${s.percentBlocked.toFixed(1)}% blocked`,
    `${s.domainsOnBlockList.toLocaleString('en-US')} domains on the block list`,
    `gravity updated ${gravity}`,
  ].join('\n');
}

function listName(list: DomainList): string {
  return list === 'deny' ? 'deny (block) list' : 'allow list';
}

function domainAction(
  name: 'block' | 'allow' | 'unblock',
  description: string,
  list: DomainList,
  remove: boolean,
) {
  const call = (ctx: CommandContext<DomainArgs>) =>
    remove
      ? piholeCalls.removeDomain(list, ctx.args.domain.toLowerCase())
      : piholeCalls.addDomain(list, ctx.args.domain.toLowerCase(), comment(ctx));
  return defineAction<DomainArgs>({
    name,
    description,
    sideEffects: true,
    options: [domainOption],
    plan: (ctx) =>
      plan(
        ctx,
        `${remove ? 'Remove' : 'Add'} ${ctx.args.domain.toLowerCase()} ${remove ? 'from' : 'to'} the ${listName(list)} on every Pi-hole.`,
        undefined,
        [call(ctx)],
      ),
    execute: async (ctx) => {
      const domain = ctx.args.domain.toLowerCase();
      const p = client(ctx);
      if (remove) {
        const results = await p.removeDomain(list, domain);
        return outcomeReply(
          results,
          said(
            `${domain} removed from the ${listName(list)}`,
            `${domain} was not removed from the ${listName(list)}`,
          ),
          (v) => (v.removed ? 'removed' : `was not on the ${listName(list)}`),
        );
      }
      const results = await p.addDomain(list, domain, comment(ctx));
      const verb = list === 'deny' ? 'blocked' : 'allowed';
      return outcomeReply(results, said(`${domain} ${verb}`, `${domain} was not ${verb}`), (v) =>
        v.added ? `added to the ${listName(list)}` : `already on the ${listName(list)}`,
      );
    },
  });
}

function comment(ctx: CommandContext): string {
  return `added from chat by ${userLabel(ctx.invocation.user)}`;
}

export const command = defineCommand({
  name: 'pihole',
  description:
    'Pi-hole DNS blocking on every Pi-hole: status, disable/enable, block/allow, gravity',
  subcommands: [
    defineAction<InstanceArgs>({
      name: 'status',
      description:
        'Per Pi-hole: blocking (and its timer), queries today, % blocked, block list, gravity',
      sideEffects: false,
      options: [],
      execute: demoAware(
        (ctx) => labAsks.piholeStatus(client(ctx).targets()),
        async (ctx) => {
          const results = await client(ctx).status();
          const now = Date.now();
          const reply = outcomeReply(
            results,
            { done: 'Pi-hole status', notDone: 'No status', noun: 'Pi-hole', readOnly: true },
            (s) => statusLine(s, now),
          );
          const off = results.filter((r) => r.ok && r.value.blocking !== 'enabled').length;
          if (off && reply.severity === 'success') reply.severity = 'warning';
          return reply;
        },
      ),
    }),
    defineAction<DisableArgs>({
      name: 'disable',
      description: 'Pause blocking (default 5m, at most 1d); Pi-hole turns it back on by itself',
      sideEffects: true,
      options: [
        {
          name: 'duration',
          description: 'How long: 30s, 5m, 1h (default 5m, at most 1d)',
          type: 'string',
          schema: z.string().regex(DURATION, 'a duration like 30s, 5m or 1h'),
        },
        instanceOption,
      ],
      plan: (ctx) => {
        const secs = parseDuration(ctx.args.duration ?? '5m');
        return plan(
          ctx,
          `Disable blocking for ${formatSeconds(secs)} on ${ctx.args.instance ?? 'every Pi-hole'}; each Pi-hole re-enables it by itself.`,
          ctx.args.instance,
          [piholeCalls.setBlocking(false, secs)],
        );
      },
      execute: async (ctx) => {
        const secs = parseDuration(ctx.args.duration ?? '5m');
        const results = await client(ctx).setBlocking(false, secs, ctx.args.instance);
        return outcomeReply(
          results,
          said(`Blocking disabled for ${formatSeconds(secs)}`, 'Blocking was not disabled'),
          (v) => `disabled${v.timer ? `, back on in ${formatSeconds(v.timer)}` : ''}`,
          (v) =>
            v.blocking === 'disabled' ? undefined : `it still reports blocking ${v.blocking}`,
        );
      },
    }),
    defineAction<InstanceArgs>({
      name: 'enable',
      description: 'Turn blocking back on now',
      sideEffects: true,
      options: [instanceOption],
      plan: (ctx) =>
        plan(
          ctx,
          `Enable blocking on ${ctx.args.instance ?? 'every Pi-hole'}.`,
          ctx.args.instance,
          [piholeCalls.setBlocking(true, null)],
        ),
      execute: async (ctx) => {
        const results = await client(ctx).setBlocking(true, null, ctx.args.instance);
        return outcomeReply(
          results,
          said('Blocking enabled', 'Blocking was not enabled'),
          () => 'enabled',
          (v) => (v.blocking === 'enabled' ? undefined : `it still reports blocking ${v.blocking}`),
        );
      },
    }),
    domainAction('block', 'Block a domain on every Pi-hole (the deny list)', 'deny', false),
    domainAction('allow', 'Never block a domain (the allow list)', 'allow', false),
    domainAction('unblock', 'Remove a domain from the deny list', 'deny', true),
    defineAction({
      name: 'gravity',
      description: 'Update the block lists (gravity) on every Pi-hole, with progress',
      sideEffects: true,
      options: [],
      plan: (ctx) =>
        plan(ctx, 'Update gravity (download the block lists) on every Pi-hole.', undefined, [
          piholeCalls.gravity(),
        ]),
      execute: async (ctx) => {
        const p = client(ctx);
        const names = p.names();
        const title = 'Updating gravity';
        let chain = Promise.resolve();
        const queue = (f: () => Promise<void>) => {
          chain = chain.then(f).catch(() => {});
        };
        const last = new Map<string, string>();
        let done = 0;
        const render = () =>
          ctx.progress.update({
            title,
            text: names.map((n) => `${n}: ${last.get(n) ?? 'starting…'}`).join('\n'),
            progress: { done, total: names.length, label: 'Pi-holes done' },
          });
        await render();
        const results = await p.gravity((instance, line) => {
          last.set(instance, line);
          queue(() => ctx.progress.step(`${instance}: ${line}`));
          queue(render);
        });
        done = names.length;
        await chain;
        return outcomeReply(
          results,
          said('Gravity updated', 'Gravity was not updated'),
          (v) => `done (${v.lines} lines of output)`,
        );
      },
    }),
  ],
});
