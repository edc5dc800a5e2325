/** Axis ticks that read well: values at 1/2/5 × 10ⁿ, times at whole minutes/hours in UTC. Pure. */

export interface AxisTick {
  value: number;
  label: string;
}

/** About five ticks spanning `values` (and 0..1 when there are none). */
export function valueTicks(values: number[], target = 5): AxisTick[] {
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const first = Math.floor(lo / step) * step;
  const last = Math.ceil(hi / step) * step;
  const ticks: AxisTick[] = [];
  for (let v = first, i = 0; v <= last + step / 2 && i < 20; v += step, i++) {
    const value = Math.round(v / step) * step;
    ticks.push({ value, label: formatValue(value, step) });
  }
  return ticks;
}

/** 1234567 → 1.23M, 0.005 → 0.005, 85 → 85. */
export function formatValue(v: number, step = Math.abs(v)): string {
  if (v === 0) return '0';
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, suffix] of units)
    if (Math.abs(v) >= size && step >= size / 100) return `${trim(v / size, step / size)}${suffix}`;
  return trim(v, step);
}

function trim(v: number, step: number): string {
  const decimals = step > 0 ? Math.max(0, Math.min(6, -Math.floor(Math.log10(step)) + 1)) : 2;
  return Number(v.toFixed(decimals)).toString();
}

const TIME_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** Ticks at whole UTC minutes/hours, about six over the range; dates shown past a day. */
export function timeTicks(start: number, end: number, target = 6): AxisTick[] {
  const span = Math.max(1, end - start);
  const step =
    TIME_STEPS.find((s) => span / s <= target) ?? Math.ceil(span / target / 86400) * 86400;
  const ticks: AxisTick[] = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) {
    const iso = new Date(t * 1000).toISOString();
    ticks.push({
      value: t,
      label: span > 86400 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16),
    });
  }
  return ticks;
}
