import { describe, expect, it } from 'vitest';
import { parseProbe, parseThrottled, renderStatuses } from '../../src/nodes/status.js';

describe('node status parsing', () => {
  it('reads uptime, load, memory and disk from one shell probe', () => {
    const out = [
      '351245.21 1385734.12',
      '0.42 0.37 0.31 1/412 123456',
      '               total        used        free      shared  buff/cache   available',
      'Mem:      8253399040  2063349760  1031674880    33554432  5158374400  5901139968',
      'Swap:              0           0           0',
      'Filesystem     1-blocks        Used   Available Capacity Mounted on',
      '/dev/mmcblk0p2 62245666816 15561416704 44118212608      27% /',
    ].join('\n');
    expect(parseProbe(out)).toEqual({
      uptimeSeconds: 351245.21,
      load1: 0.42,
      memUsedPct: 25,
      diskUsedPct: 25,
    });
  });

  it('decodes vcgencmd get_throttled: what is wrong now and what happened since boot', () => {
    expect(parseThrottled('throttled=0x0\n')).toBeUndefined();
    expect(parseThrottled('throttled=0x50005\n')).toEqual({
      now: ['under-voltage', 'throttled'],
      sinceBoot: ['under-voltage', 'throttled'],
    });
    expect(parseThrottled('throttled=0x80000\n')).toEqual({
      now: [],
      sinceBoot: ['soft temperature limit'],
    });
    expect(parseThrottled('error=2 error_msg="Command not registered"')).toBeUndefined();
  });

  it('puts power and heat problems in the answer with what to check', () => {
    const reply = renderStatuses([
      { node: 'pi4-a', reachable: true, power: parseThrottled('throttled=0x50005') },
      { node: 'pi4-b', reachable: true, power: parseThrottled('throttled=0x80000') },
      { node: 'pi5', reachable: true },
    ]);
    expect(reply.severity).toBe('warning');
    expect(reply.title).toBe('3 nodes up; pi4-a: a power or heat problem now');
    expect(reply.fields).toEqual([
      {
        name: 'pi4-a: power and heat',
        value:
          'now: under-voltage, throttled; since boot: under-voltage, throttled (vcgencmd get_throttled) — check the power supply and cable (Pi 4: 5.1 V 3 A, Pi 5: 5.1 V 5 A); check cooling (heatsink, fan, case airflow).',
      },
      {
        name: 'pi4-b: power and heat',
        value:
          'since boot: soft temperature limit (vcgencmd get_throttled) — check cooling (heatsink, fan, case airflow).',
      },
    ]);
  });
});
