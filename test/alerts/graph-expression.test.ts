import { describe, expect, it } from 'vitest';
import { exprFromGeneratorURL, graphQuery } from '../../src/alerts/graph/expression.js';
import { autoStep } from '../../src/alerts/graph/prometheus-client.js';
import { formatValue, timeTicks, valueTicks } from '../../src/alerts/graph/ticks.js';

describe('what an alert graph shows', () => {
  it('reads the rule expression from a Prometheus generatorURL', () => {
    expect(
      exprFromGeneratorURL('http://prometheus:9090/graph?g0.expr=node_load1+%3E+4&g0.tab=1'),
    ).toBe('node_load1 > 4');
    expect(exprFromGeneratorURL('')).toBeUndefined();
    expect(exprFromGeneratorURL('http://grafana/alerting/list')).toBeUndefined();
    expect(exprFromGeneratorURL('not a url')).toBeUndefined();
  });

  it.each([
    ['node_load1 > 4', 'node_load1', { op: '>', value: 4 }],
    ['up{job="node"} == 0', 'up{job="node"}', { op: '==', value: 0 }],
    [
      '(1 - node_filesystem_avail_bytes{fstype!="tmpfs"} / node_filesystem_size_bytes) * 100 >= 80.5',
      '(1 - node_filesystem_avail_bytes{fstype!="tmpfs"} / node_filesystem_size_bytes) * 100',
      { op: '>=', value: 80.5 },
    ],
    ['0.9 < rate(errors_total[5m])', 'rate(errors_total[5m])', { op: '>', value: 0.9 }],
    ['temp > bool 80', 'temp', { op: '>', value: 80 }],
    ['rate(x[5m]) > 0.5 and on(instance) up == 1', 'rate(x[5m])', { op: '>', value: 0.5 }],
    ['a > b', 'a > b', undefined],
    ['absent(up{job="x"})', 'absent(up{job="x"})', undefined],
    ['a > 1 or b > 2', 'a > 1 or b > 2', undefined],
    [
      'sum by (le) (rate(h_bucket{path=~"/a>b"}[5m])) > 1e3',
      'sum by (le) (rate(h_bucket{path=~"/a>b"}[5m]))',
      { op: '>', value: 1000 },
    ],
  ])('%s → graph %s with threshold %j', (expr, graphed, threshold) => {
    const q = graphQuery(expr);
    expect(q.expr).toBe(graphed);
    expect(q.threshold).toEqual(threshold);
  });

  it('picks a step of about 240 points that reads well', () => {
    expect(autoStep(3600)).toBe(15);
    expect(autoStep(6 * 3600)).toBe(120);
    expect(autoStep(60)).toBe(5);
    expect(autoStep(7 * 86400)).toBe(3600);
  });

  it('labels axes: values with SI suffixes, UTC times', () => {
    expect(valueTicks([0.2, 7.9]).map((t) => t.label)).toEqual(['0', '2', '4', '6', '8']);
    expect(formatValue(1_500_000, 500_000)).toBe('1.5M');
    expect(formatValue(0.005, 0.001)).toBe('0.005');
    expect(timeTicks(1_767_265_200, 1_767_268_800).map((t) => t.label)).toEqual([
      '11:00',
      '11:10',
      '11:20',
      '11:30',
      '11:40',
      '11:50',
      '12:00',
    ]);
  });
});
