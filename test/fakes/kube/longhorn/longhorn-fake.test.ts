/**
 * The fake's Longhorn (issue #16) through the bot's own reader (src/infra/longhorn.ts, the real
 * client-node): objects valid by Longhorn's CRD schemas at every stage, replicas on a node that
 * goes down failing, the volume degraded, then rebuilt with progress once the node is back; a
 * cluster without Longhorn answers 404 and the reader says "not installed".
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kube } from '../../../../src/infra/kube.js';
import { Longhorn } from '../../../../src/infra/longhorn.js';
import { FakeKube } from '../fake-kube.js';
import { longhornSchemaProblems } from './crd-validate.js';

let kube: FakeKube | undefined;
afterEach(async () => {
  await kube?.stop();
  kube = undefined;
});

const NODES = [{ name: 'pi4-a' }, { name: 'pi4-b' }, { name: 'pi5' }];

describe('fake Longhorn', () => {
  it('serves volumes in the CRD shapes; a node down fails its replicas, back it rebuilds them with progress', async () => {
    kube = await FakeKube.start({
      nodes: NODES,
      longhorn: {
        nodes: ['pi4-a', 'pi4-b', 'pi5'],
        rebuildMs: 1500,
        drainPolicy: 'always-allow',
        volumes: [
          {
            name: 'pvc-gitea',
            sizeGiB: 8,
            replicas: ['pi4-a', 'pi4-b'],
            pvc: {
              namespace: 'gitea',
              name: 'data-gitea-0',
              pods: [{ name: 'gitea-0', workload: 'StatefulSet/gitea' }],
            },
            backups: [{ ageHours: 2 }],
          },
          { name: 'pvc-single', replicas: ['pi4-a'] },
        ],
      },
    });
    const k = kube;
    const lh = new Longhorn(Kube.load({ kubeconfig: k.kubeconfigFile }));
    const first = await lh.state();
    expect(first?.drainPolicy).toBe('always-allow');
    expect(first?.volumes.map((v) => `${v.name} ${v.robustness} ${v.pvc ?? '-'}`)).toEqual([
      'pvc-gitea healthy gitea/data-gitea-0',
      'pvc-single healthy -',
    ]);
    expect(first?.volumes[0]?.workloads).toEqual([
      { pod: 'gitea/gitea-0', workload: 'StatefulSet/gitea' },
    ]);
    expect(first?.volumes[0]?.lastBackupAt).toBeTruthy();
    expect(first?.nodes.map((n) => n.name)).toEqual(['pi4-a', 'pi4-b', 'pi5']);

    k.setNodeReady('pi4-a', false);
    await k.waitFor(() =>
      k.longhorn!.events.some((e) => e.what === 'robustness' && e.detail === 'faulted'),
    );
    const down = await lh.state();
    expect(down?.volumes.map((v) => `${v.name} ${v.robustness}`)).toEqual([
      'pvc-gitea degraded',
      'pvc-single faulted',
    ]);
    expect(
      down?.replicas
        .filter((r) => r.node === 'pi4-a')
        .map((r) => `${r.healthy} ${r.failed} ${r.state}`),
    ).toEqual(['false true stopped', 'false true stopped']);
    expect(down?.nodes.find((n) => n.name === 'pi4-a')?.ready).toBe(false);

    k.setNodeReady('pi4-a', true);
    // While it rebuilds, the engine's rebuildStatus carries the progress the reader shows.
    const seen = new Set<number>();
    await k.waitFor(() => {
      void lh.state().then((s) => {
        const p = s?.replicas.find(
          (r) => r.volume === 'pvc-gitea' && r.node === 'pi4-a',
        )?.rebuildProgress;
        if (p !== undefined) seen.add(p);
      });
      return k.longhorn!.events.some((e) => e.what === 'rebuilt' && e.volume === 'pvc-gitea');
    }, 10_000);
    const after = await lh.state();
    expect(after?.volumes.map((v) => `${v.name} ${v.robustness}`)).toEqual([
      'pvc-gitea healthy',
      'pvc-single healthy', // nothing to rebuild from: salvaged as it was
    ]);
    expect([...seen].some((p) => p > 0 && p < 100)).toBe(true);
    expect(k.longhorn!.events.filter((e) => e.what === 'rebuild-progress').length).toBeGreaterThan(
      2,
    );
    expect(k.longhorn!.schemaProblems).toEqual([]);
    for (const r of [
      'lh-volumes',
      'lh-replicas',
      'lh-engines',
      'lh-nodes',
      'lh-settings',
      'lh-backups',
    ] as const) {
      for (const o of k.store.list(r))
        expect(longhornSchemaProblems(o), `${o.kind} ${o.metadata.name}`).toEqual([]);
    }
    expect(k.unhandled).toEqual([]);
    expect(k.denied).toEqual([]);
  }, 20_000);

  it('the CRD validation refuses what Longhorn would not accept', () => {
    const bad = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Volume',
      metadata: { name: 'x' },
      spec: { numberOfReplicas: 'two', nonsense: true },
    };
    expect(longhornSchemaProblems(bad).join('\n')).toMatch(
      /"nonsense"[\s\S]*numberOfReplicas must be integer/,
    );
  });

  it('without Longhorn: 404 for the group, the reader says not installed, nothing unhandled', async () => {
    kube = await FakeKube.start({ nodes: NODES });
    const lh = new Longhorn(Kube.load({ kubeconfig: kube.kubeconfigFile }));
    expect(await lh.state()).toBeUndefined();
    expect(kube.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /apis/longhorn.io/v1beta2/namespaces/longhorn-system/volumes 404',
    ]);
    expect(kube.unhandled).toEqual([]);
  });
});
