import { describe, expect, it } from 'vitest';
import {
  formatLabelSet,
  formatMatcher,
  type Matcher,
  MatcherError,
  matches,
  parseMatcher,
  parseMatchers,
} from '../../src/alerts/matchers.js';
import { UserError } from '../../src/core/errors.js';

const plain = (ms: Matcher[]) => ms.map(({ name, op, value }) => ({ name, op, value }));

describe('parseMatcher', () => {
  it.each([
    ['severity="critical"', 'severity', '=', 'critical'],
    ['severity=~"critical|warning"', 'severity', '=~', 'critical|warning'],
    ['namespace!="kube-system"', 'namespace', '!=', 'kube-system'],
    ['team!~"ops.*"', 'team', '!~', 'ops.*'],
    ['severity=critical', 'severity', '=', 'critical'],
    ['  severity = "critical"  ', 'severity', '=', 'critical'],
    ['msg="say \\"hi\\""', 'msg', '=', 'say "hi"'],
    ['path="C:\\\\temp"', 'path', '=', 'C:\\temp'],
    ['text="two\\nlines"', 'text', '=', 'two\nlines'],
    // Any other escape is kept, so regexes need no double escaping (as in Alertmanager).
    ['host=~"pi[0-9]\\.lab"', 'host', '=~', 'pi[0-9]\\.lab'],
    ['summary="a, b"', 'summary', '=', 'a, b'],
    ['empty=""', 'empty', '=', ''],
    ['empty=', 'empty', '=', ''],
    ['__name__="up"', '__name__', '=', 'up'],
    ['job:rate5m="x"', 'job:rate5m', '=', 'x'],
  ])('%s', (text, name, op, value) => {
    expect(plain([parseMatcher(text)])).toEqual([{ name, op, value }]);
  });

  it.each([
    [
      'severity',
      `bad matcher 'severity': expected name, one of = != =~ !~, and a value, like severity="critical"`,
    ],
    [
      '="x"',
      `bad matcher '="x"': expected name, one of = != =~ !~, and a value, like severity="critical"`,
    ],
    [
      '1abc="x"',
      `bad matcher '1abc="x"': "1abc" is not a label name (letters, digits, _ and :, not starting with a digit)`,
    ],
    [
      'team-name="x"',
      `bad matcher 'team-name="x"': "team-name" is not a label name (letters, digits, _ and :, not starting with a digit)`,
    ],
    ['severity="critical', `bad matcher 'severity="critical': missing closing quote`],
    ['severity="critical\\"', `bad matcher 'severity="critical\\"': missing closing quote`],
    ['a="b"c"', `bad matcher 'a="b"c"': unescaped " inside the value (write \\")`],
    ['a=b"c', `bad matcher 'a=b"c': a value with " must be quoted`],
    [
      'team=~"ops["',
      `bad matcher 'team=~"ops["': invalid regular expression: Unterminated character class`,
    ],
    ['team!~"(ops"', `bad matcher 'team!~"(ops"': invalid regular expression: Unterminated group`],
  ])('refuses %s', (text, message) => {
    expect(() => parseMatcher(text)).toThrow(message);
  });

  it('throws a MatcherError, which is safe to show to the chat user', () => {
    expect(() => parseMatcher('nope')).toThrow(MatcherError);
    expect(() => parseMatcher('nope')).toThrow(UserError);
  });
});

describe('parseMatchers', () => {
  it('reads a braces list, with commas inside quotes kept', () => {
    expect(plain(parseMatchers('{severity="critical", namespace=~"home-.*", msg="a,b"}'))).toEqual([
      { name: 'severity', op: '=', value: 'critical' },
      { name: 'namespace', op: '=~', value: 'home-.*' },
      { name: 'msg', op: '=', value: 'a,b' },
    ]);
  });

  it('reads a list without braces and a trailing comma', () => {
    expect(plain(parseMatchers('a=b, c!="d",'))).toEqual([
      { name: 'a', op: '=', value: 'b' },
      { name: 'c', op: '!=', value: 'd' },
    ]);
  });

  it('reads a YAML list of strings, each of which may hold several', () => {
    expect(plain(parseMatchers(['severity=~"critical|warning"', '{a="1", b="2"}']))).toEqual([
      { name: 'severity', op: '=~', value: 'critical|warning' },
      { name: 'a', op: '=', value: '1' },
      { name: 'b', op: '=', value: '2' },
    ]);
  });

  it('reads {} and an empty list as no matchers (everything matches)', () => {
    expect(parseMatchers('{}')).toEqual([]);
    expect(parseMatchers([])).toEqual([]);
  });

  it.each([
    ['{a="b"', `bad matchers '{a="b"': unbalanced braces`],
    ['a="b",,c="d"', `bad matchers 'a="b",,c="d"': matcher 2 is empty`],
    ['a="b", c~"d"', `bad matcher 'c~"d"': expected name`],
  ])('refuses %s, saying which matcher', (text, message) => {
    expect(() => parseMatchers(text)).toThrow(message);
  });
});

describe('matches', () => {
  const labels = {
    alertname: 'TargetDown',
    severity: 'warning',
    namespace: 'monitoring',
    team: 'ops-lab',
  };
  it.each([
    [['severity="warning"'], true],
    [['severity="critical"'], false],
    [['severity=~"critical|warning"'], true],
    // Fully anchored: a partial match is no match.
    [['severity=~"warn"'], false],
    [['severity=~"warn.*"'], true],
    [['severity=~"critical|warn"'], false],
    [['namespace!="kube-system"'], true],
    [['namespace!="monitoring"'], false],
    [['team!~"ops.*"'], false],
    [['team!~"ops"'], true],
    // A missing label is the empty string.
    [['pod=""'], true],
    [['pod!=""'], false],
    [['pod=~".*"'], true],
    [['pod=~".+"'], false],
    [['pod!~"x"'], true],
    // RE2's leading (?i) flag.
    [['alertname=~"(?i)targetdown"'], true],
    [['alertname=~"targetdown"'], false],
    // All must match.
    [['severity="warning"', 'namespace="monitoring"'], true],
    [['severity="warning"', 'namespace="default"'], false],
    [[], true],
  ])('%j → %s', (ms, expected) => {
    expect(matches(parseMatchers(ms), labels)).toBe(expected);
  });
});

describe('formatMatcher / formatLabelSet', () => {
  it.each(['a="b"', 'msg="say \\"hi\\""', 'p="C:\\\\x"', 't="two\\nlines"', 'r=~"ops.*"'])(
    'round-trips %s',
    (text) => {
      expect(formatMatcher(parseMatcher(text))).toBe(text);
    },
  );

  it('writes a label set as Alertmanager filters it', () => {
    expect(formatLabelSet({ alertname: 'TargetDown', namespace: 'mon"itoring' })).toBe(
      '{alertname="TargetDown",namespace="mon\\"itoring"}',
    );
  });
});
