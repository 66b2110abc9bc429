import type { Host } from '../../host/host.js';
import { MANIFESTS_DIR } from '../../kubeadm/constants.js';
import { HELD_MANIFESTS } from '../../backup/restore-plan.js';

export const livePath = (component: string) => `${MANIFESTS_DIR}/${component}.yaml`;
export const heldPath = (component: string) => `${HELD_MANIFESTS}/${component}.yaml`;

/** Where a component's manifest is now: running (the kubelet's folder), held by a restore, or nowhere. */
export async function manifestPlace(host: Host, component: string): Promise<'live' | 'held' | 'missing'> {
  const r = await host.sudo(
    `if [ -f ${livePath(component)} ]; then echo live; ` +
      `elif [ -f ${heldPath(component)} ]; then echo held; else echo missing; fi`,
    { step: `find ${component} manifest` },
  );
  return r.stdout.trim() as 'live' | 'held' | 'missing';
}

/** The etcd image this master runs (its manifest, wherever it is now). */
export async function etcdImageOn(host: Host): Promise<string | undefined> {
  const r = await host.sudo(`cat ${livePath('etcd')} 2>/dev/null || cat ${heldPath('etcd')} 2>/dev/null || true`, {
    step: 'read etcd manifest',
  });
  return /^\s+image: (\S+)$/m.exec(r.stdout)?.[1];
}
