import { z } from 'zod';
import type { AlertService } from '../src/alerts/alert-service.js';
import { groupMatchers, parseDuration } from '../src/alerts/alertmanager-client.js';
import { renderAlertList } from '../src/alerts/render.js';
import { defineAction, defineCommand, type OptionDef } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { UserError } from '../src/core/errors.js';
import { labAsks } from '../src/demo/lab-asks.js';
import { demoAware, NoLabError } from '../src/demo/no-lab.js';

const refOption: OptionDef = {
  name: 'ref',
  description: 'The alert group, as shown on its message (e.g. A-12)',
  type: 'string',
  required: true,
  autocomplete: 'alert-groups',
  schema: z
    .string()
    .regex(/^[Aa]-\d{1,7}$/, 'an alert group like A-12')
    .transform((s) => s.toUpperCase()),
};

function service(ctx: CommandContext): AlertService {
  const alerts = ctx.services.alerts();
  if (!alerts)
    throw new UserError(
      'Alerts are not enabled here.',
      'Set alerts.enabled: true and point Alertmanager at /hooks/alertmanager.',
    );
  return alerts;
}

/** The alert group; in the demo, with how alerts get there when there is none. */
function group(ctx: CommandContext, ref: string) {
  try {
    return service(ctx).group(ref).state;
  } catch (err) {
    if (!ctx.config.demo || !(err instanceof UserError)) throw err;
    const { host, port } = ctx.config.http;
    throw new UserError(
      err.message,
      `${err.hint ?? ''} The demo's alerts arrive when Alertmanager posts to http://${host}:${port}/hooks/alertmanager (npm run lab -- --alert sends one); then /alert silence shows the silence it would create.`.trim(),
    );
  }
}

/** In the demo, a silence is only a plan: Alertmanager's URL is the demo's, never contacted. */
function refuseInDemo(ctx: CommandContext, request: string): void {
  if (!ctx.config.demo) return;
  const url = ctx.config.alerts.alertmanager.url ?? '<alerts.alertmanager.url>';
  throw new NoLabError(
    {
      asks: `send ${request.replace('{url}', url)} to Alertmanager`,
      connect: 'alerts.alertmanager.url',
    },
    'change',
  );
}

type SilenceArgs = { ref: string; duration: string; comment?: string };

export const command = defineCommand({
  name: 'alert',
  description: 'Alertmanager alerts: list them, graph, silence or acknowledge an alert group',
  subcommands: [
    defineAction({
      name: 'list',
      description: 'Active alerts, from Alertmanager',
      sideEffects: false,
      options: [],
      execute: demoAware(
        (ctx) => labAsks.alertList(ctx.config),
        async (ctx) => renderAlertList(await service(ctx).activeAlerts(), new Date()),
      ),
    }),
    defineAction<SilenceArgs>({
      name: 'silence',
      description: 'Silence an alert group in Alertmanager for a while',
      sideEffects: true,
      options: [
        refOption,
        {
          name: 'duration',
          description: 'How long: 30m, 1h, 4h, 1d',
          type: 'string',
          required: true,
          schema: z.string().regex(/^(\d+[smhd])+$/, 'a duration like 30m, 1h, 4h or 1d'),
        },
        { name: 'comment', description: 'Why (shown in Alertmanager)', type: 'string' },
      ],
      plan: (ctx) => {
        const g = group(ctx, ctx.args.ref);
        const ms = parseDuration(ctx.args.duration);
        const matchers = groupMatchers(g.groupLabels, g.commonLabels, g.truncatedAlerts)
          .map((m) => `${m.name}${m.isEqual ? '' : '!'}${m.isRegex ? '=~' : '='}"${m.value}"`)
          .join(', ');
        return {
          summary: `Silence ${g.ref} (${matchers}) for ${ctx.args.duration}.`,
          steps: [
            `POST ${ctx.config.alerts.alertmanager.url ?? '<alerts.alertmanager.url>'}/api/v2/silences {matchers: [${matchers}], endsAt: now + ${Math.round(ms / 60000)} min, createdBy: "${ctx.invocation.user.platform}:${ctx.invocation.user.id} (${ctx.invocation.user.displayName})"}`,
            `note the silence in ${g.ref}'s thread and on its message`,
          ],
        };
      },
      execute: async (ctx) => {
        refuseInDemo(ctx, 'POST {url}/api/v2/silences');
        const ms = parseDuration(ctx.args.duration);
        const { state, silenceId } = await service(ctx).silence(
          ctx.args.ref,
          ms,
          ctx.args.comment ?? '',
          ctx.invocation.user,
        );
        return {
          severity: 'success',
          title: `Silenced ${state.ref} for ${ctx.args.duration}`,
          text: `Silence ${silenceId} in Alertmanager; expire it with /alert unsilence ${state.ref}.`,
        };
      },
    }),
    defineAction<{ ref: string }>({
      name: 'unsilence',
      description: 'Expire the silence created from chat for an alert group',
      sideEffects: true,
      options: [refOption],
      plan: (ctx) => {
        const g = group(ctx, ctx.args.ref);
        return {
          summary: `Expire the silence of ${g.ref}.`,
          steps: [
            `DELETE ${ctx.config.alerts.alertmanager.url ?? '<alerts.alertmanager.url>'}/api/v2/silence/${g.silence?.id ?? '<none>'}`,
          ],
        };
      },
      execute: async (ctx) => {
        refuseInDemo(ctx, 'DELETE {url}/api/v2/silence/{id}');
        const state = await service(ctx).unsilence(ctx.args.ref, ctx.invocation.user);
        return { severity: 'success', title: `Silence of ${state.ref} expired` };
      },
    }),
    defineAction<{ ref: string; range?: string }>({
      name: 'graph',
      description: "Graph of an alert group's expression from Prometheus",
      sideEffects: false,
      options: [
        refOption,
        {
          name: 'range',
          description: 'How far back: 30m, 1h, 6h, 1d (default alerts.prometheus.range)',
          type: 'string',
          schema: z.string().regex(/^(\d+[smhdw])+$/, 'a duration like 30m, 1h, 6h or 1d'),
        },
      ],
      execute: demoAware(
        (ctx) => labAsks.alertGraph(ctx.config, ctx.args.ref),
        async (ctx) => {
          const range = ctx.args.range ? parseDuration(ctx.args.range) / 1000 : undefined;
          if (range !== undefined && (range < 60 || range > 7 * 86_400))
            throw new UserError(`A graph covers 1m to 7d, not ${ctx.args.range}.`);
          return service(ctx).graph(ctx.args.ref, range);
        },
      ),
    }),
    defineAction<{ ref: string }>({
      name: 'ack',
      description: 'Acknowledge an alert group: you are on it',
      sideEffects: true,
      options: [refOption],
      plan: (ctx) => ({
        summary: `Acknowledge ${ctx.args.ref}.`,
        steps: [
          `record ${ctx.invocation.user.displayName} and the time on ${ctx.args.ref}'s message and thread`,
        ],
      }),
      execute: async (ctx) => {
        const state = await service(ctx).ack(ctx.args.ref, ctx.invocation.user);
        return { severity: 'success', title: `Acknowledged ${state.ref}` };
      },
    }),
  ],
});
