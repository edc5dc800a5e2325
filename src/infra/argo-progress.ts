import type { ArgoApp, OperationState } from './argo-objects.js';
import { resourceName } from './argo-objects.js';

/**
 * What a followed sync shows as it goes, live or after a restart: the message's progress
 * (resources synced of all, the phase, retries, Argo CD's message) and one thread line per
 * resource when its result is known — again when a retry changes it.
 */
export function syncProgress(title: string): {
  /** The message's progress for this state. */
  update(
    state: OperationState,
    app: ArgoApp,
  ): { title: string; text: string; progress: { done: number; total: number; label: string } };
  /** Lines for results not shown yet. */
  lines(state: OperationState): string[];
} {
  const seen = new Map<string, string>();
  return {
    update(state, app) {
      const total = Math.max(app.resources.length, state.resources.length);
      const synced = state.resources.filter((r) => r.status !== 'SyncFailed').length;
      return {
        title,
        text: `${synced}/${total} resources synced — phase ${state.phase}${state.retryCount ? ` (retry ${state.retryCount})` : ''}${state.message ? `\n${state.message}` : ''}`,
        progress: { done: synced, total, label: state.phase },
      };
    },
    lines(state) {
      const out: string[] = [];
      for (const r of state.resources) {
        const key = resourceName(r);
        const result = `${r.status}|${r.message ?? ''}`;
        if (seen.get(key) === result) continue;
        seen.set(key, result);
        const mark = r.status === 'SyncFailed' ? '✖' : '✔';
        out.push(`${mark} ${key}: ${r.status}${r.message ? ` — ${r.message}` : ''}`);
      }
      return out;
    },
  };
}
