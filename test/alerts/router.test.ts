import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AlertRoutesSchema, route } from '../../src/alerts/router.js';
import type { RoutedDestination } from '../../src/alerts/types.js';

/** The `alerts:` part of the bot's config, as people write it. */
const config = AlertRoutesSchema.parse(
  parse(`
routes:
  - match: ['severity=~"critical|warning"', 'namespace="home-assistant"']
    to: [{ discord: "1234567890123456789" }, { matrix: "!ops:lab.example" }, { console: true }]
    mentions: { critical: ["<@&112233>", "@alice:lab.example"], warning: [] }
  - match: ['{severity="critical", namespace!~"home-.*"}']
    to: [{ discord: "1234567890123456789" }]
    mentions: { critical: ["<@&112233>", "<@445566>"] }
    continue: true
  - match: ['severity="critical"']
    to: [{ matrix: "!ops:lab.example" }, { discord: "1234567890123456789" }]
    mentions: { critical: ["@oncall:lab.example", "<@&112233>"] }
  - match: ['alertname="Watchdog"']
    to: []
default:
  to: [{ matrix: "!inbox:lab.example" }]
`),
);

const discord = (...mentions: string[]): RoutedDestination => ({
  platform: 'discord',
  target: '1234567890123456789',
  mentions,
});
const matrix = (target: string, ...mentions: string[]): RoutedDestination => ({
  platform: 'matrix',
  target,
  mentions,
});
const consoleDest: RoutedDestination = { platform: 'console', target: 'console', mentions: [] };

describe('route', () => {
  it.each<[string, Record<string, string>, Record<string, string>, RoutedDestination[]]>([
    [
      'a warning in home-assistant: the first route, nobody mentioned for warnings',
      { alertname: 'KubePodCrashLooping', namespace: 'home-assistant' },
      { alertname: 'KubePodCrashLooping', namespace: 'home-assistant', severity: 'warning' },
      [discord(), matrix('!ops:lab.example'), consoleDest],
    ],
    [
      'critical in home-assistant: the first route only (no continue); each platform gets its own mentions',
      { alertname: 'X', namespace: 'home-assistant' },
      { alertname: 'X', namespace: 'home-assistant', severity: 'critical' },
      [discord('<@&112233>'), matrix('!ops:lab.example', '@alice:lab.example'), consoleDest],
    ],
    [
      'critical elsewhere: route 2 continues into route 3; one post per destination, mentions merged',
      { alertname: 'NodeFilesystemSpaceFillingUp', namespace: 'monitoring' },
      { alertname: 'NodeFilesystemSpaceFillingUp', namespace: 'monitoring', severity: 'critical' },
      [discord('<@&112233>', '<@445566>'), matrix('!ops:lab.example', '@oncall:lab.example')],
    ],
    [
      'a missing namespace is "" and so not home-*: routes 2 and 3',
      { alertname: 'X' },
      { alertname: 'X', severity: 'critical' },
      [discord('<@&112233>', '<@445566>'), matrix('!ops:lab.example', '@oncall:lab.example')],
    ],
    [
      'a route with no destinations drops the group',
      { alertname: 'Watchdog' },
      { alertname: 'Watchdog', severity: 'none' },
      [],
    ],
    [
      'info in monitoring: no route matches, so the default',
      { alertname: 'TargetDown', namespace: 'monitoring' },
      { alertname: 'TargetDown', namespace: 'monitoring', severity: 'info' },
      [matrix('!inbox:lab.example')],
    ],
    [
      'group labels count too (merged over the common labels)',
      { alertname: 'X', namespace: 'home-assistant', severity: 'warning' },
      { alertname: 'X' },
      [discord(), matrix('!ops:lab.example'), consoleDest],
    ],
  ])('%s', (_name, groupLabels, commonLabels, expected) => {
    expect(route(config, { groupLabels, commonLabels })).toEqual(expected);
  });

  it('routes to the console by default when nothing is configured', () => {
    const empty = AlertRoutesSchema.parse({});
    expect(route(empty, { groupLabels: {}, commonLabels: { severity: 'critical' } })).toEqual([
      consoleDest,
    ]);
  });

  it('keeps the config as written (it prints and validates again the same)', () => {
    expect(AlertRoutesSchema.parse(config)).toEqual(config);
    expect(config.routes[0]!.match).toEqual([
      'severity=~"critical|warning"',
      'namespace="home-assistant"',
    ]);
  });
});

describe('AlertRoutesSchema', () => {
  const problems = (raw: unknown) => {
    const r = AlertRoutesSchema.safeParse(raw);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it.each<[string, unknown, string[]]>([
    [
      'a bad matcher, naming it',
      { routes: [{ match: ['severity="critical"', 'team=~"ops["'], to: [{ console: true }] }] },
      [
        `routes.0.match.1: bad matcher 'team=~"ops["': invalid regular expression: Unterminated character class`,
      ],
    ],
    [
      'two platforms in one destination',
      { routes: [{ to: [{ discord: '123', matrix: '!a:b' }] }] },
      ['routes.0.to.0: set exactly one of discord, matrix or console'],
    ],
    [
      'an empty destination',
      { default: { to: [{}] } },
      ['default.to.0: set exactly one of discord, matrix or console'],
    ],
    [
      'a room alias instead of a room id',
      { routes: [{ to: [{ matrix: '#ops:lab.example' }] }] },
      ['routes.0.to.0.matrix: a Matrix room id like !abc:example.org (not an alias)'],
    ],
    [
      'a channel name instead of an id',
      { routes: [{ to: [{ discord: '#alerts' }] }] },
      ['routes.0.to.0.discord: a Discord channel id (digits)'],
    ],
    [
      'a typo in a key',
      { routes: [{ to: [], contine: true }] },
      ['routes.0: Unrecognized key: "contine"'],
    ],
  ])('refuses %s', (_name, raw, expected) => {
    expect(problems(raw)).toEqual(expected);
  });
});
