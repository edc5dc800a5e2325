/** How /node drain and /node reboot tell what a drain did to each pod, and in sum. */
import type { Progress } from '../core/context.js';
import { isUnmanaged, type PodInfo, podName } from '../infra/kube-objects.js';

/** The drain's callbacks: a step line per evicted pod and per blocked attempt. */
export function drainProgress(progress: Progress) {
  return {
    onEvicted: (p: PodInfo) => void progress.step(evictedStep(p)),
    onBlocked: (p: PodInfo, attempt: number, reason: string) =>
      void progress.step(
        `${podName(p)} blocked by a PodDisruptionBudget (attempt ${attempt}): ${reason}`,
      ),
  };
}

const notes = (p: PodInfo): string[] => [
  ...(isUnmanaged(p) ? ['no controller: gone for good'] : []),
  ...(p.emptyDirs.length > 0 ? [`emptyDir data dropped: ${p.emptyDirs.join(', ')}`] : []),
];

/** `evicted media/jellyfin-0 (emptyDir data dropped: cache, tmp)` */
export function evictedStep(p: PodInfo): string {
  const n = notes(p);
  return `evicted ${podName(p)}${n.length > 0 ? ` (${n.join('; ')})` : ''}`;
}

/** `3 pods evicted (1 with emptyDir data dropped, 1 without a controller: gone for good)` */
export function evictedSummary(evicted: readonly PodInfo[]): string {
  const emptyDir = evicted.filter((p) => p.emptyDirs.length > 0).length;
  const bare = evicted.filter(isUnmanaged).length;
  const extra = [
    ...(emptyDir > 0 ? [`${emptyDir} with emptyDir data dropped`] : []),
    ...(bare > 0 ? [`${bare} without a controller: gone for good`] : []),
  ];
  return `${evicted.length} ${evicted.length === 1 ? 'pod' : 'pods'} evicted${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`;
}

/**
 * `1 pod stays (DaemonSet, mirror or finished)`, plus the bot's own pod when the drain left it:
 * `; chatops/homelab-chatops-abc (this bot) stays`.
 */
export function stayedSummary(skipped: readonly PodInfo[], kept?: PodInfo): string {
  return `${skipped.length} ${skipped.length === 1 ? 'pod stays' : 'pods stay'} (DaemonSet, mirror or finished)${kept ? `; ${podName(kept)} (this bot) stays` : ''}`;
}
