import { describe, expect, it } from 'vitest';
import { UserError } from '../errors/index.js';
import { MemoryStore } from '../pki/store.js';
import type { NodeConfig } from './config.js';
import { testConfig } from './fixtures.testing.js';
import { planCluster } from './plan.js';
import { RENEWABLE_NAMES, renewalFor, renewedFiles } from './renew.js';

const m1: NodeConfig = { name: 'm1', advertiseAddress: '10.0.0.10', controlPlane: true, worker: false };
const m2: NodeConfig = { name: 'm2', advertiseAddress: '10.0.0.11', controlPlane: true, worker: false };
const cfg = testConfig({ encryptionAlgorithm: 'ECDSA-P256', controlPlaneEndpoint: '10.0.0.100:6443' });

// kubeadm v1.37's certs renew names, what each replaces and which static pod must restart to read it.
const EXPECTED: Record<string, [string, string[]]> = {
  'admin.conf': ['/etc/kubernetes/admin.conf', []],
  apiserver: ['/etc/kubernetes/pki/apiserver.crt', ['kube-apiserver']],
  'apiserver-etcd-client': ['/etc/kubernetes/pki/apiserver-etcd-client.crt', ['kube-apiserver']],
  'apiserver-kubelet-client': ['/etc/kubernetes/pki/apiserver-kubelet-client.crt', ['kube-apiserver']],
  'controller-manager.conf': ['/etc/kubernetes/controller-manager.conf', ['kube-controller-manager']],
  'etcd-healthcheck-client': ['/etc/kubernetes/pki/etcd/healthcheck-client.crt', []],
  'etcd-peer': ['/etc/kubernetes/pki/etcd/peer.crt', ['etcd']],
  'etcd-server': ['/etc/kubernetes/pki/etcd/server.crt', ['etcd']],
  'front-proxy-client': ['/etc/kubernetes/pki/front-proxy-client.crt', ['kube-apiserver']],
  'scheduler.conf': ['/etc/kubernetes/scheduler.conf', ['kube-scheduler']],
  'super-admin.conf': ['/etc/kubernetes/super-admin.conf', []],
};

const refusal = (names: string[]) => {
  try {
    renewalFor(names);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error(`${names} was accepted`);
};

describe('certs renew names', () => {
  it.each(Object.entries(EXPECTED))('%s: its file, and the static pods that read it', (name, [file, restart]) => {
    expect(renewalFor([name])).toEqual({ all: false, files: [file], restart });
  });

  it('all, or no name: every file, every component in restart order', () => {
    expect([...RENEWABLE_NAMES].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const args of [['all'], [], ['all', 'all']]) {
      const r = renewalFor(args);
      expect(r.all).toBe(true);
      expect(r.files.sort()).toEqual(
        Object.values(EXPECTED)
          .map(([f]) => f)
          .sort(),
      );
      expect(r.restart).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
    }
  });

  it('several names: their files once each, their components in restart order', () => {
    const r = renewalFor(['scheduler.conf', 'etcd-peer', 'apiserver', 'front-proxy-client', 'apiserver', 'admin.conf']);
    expect(r.files).toEqual([
      '/etc/kubernetes/scheduler.conf',
      '/etc/kubernetes/pki/etcd/peer.crt',
      '/etc/kubernetes/pki/apiserver.crt',
      '/etc/kubernetes/pki/front-proxy-client.crt',
      '/etc/kubernetes/admin.conf',
    ]);
    expect(r.restart).toEqual(['etcd', 'kube-apiserver', 'kube-scheduler']);
  });

  it('refuses an unknown name listing the valid ones, and all mixed with names', () => {
    expect(refusal(['apiserver', 'kubelet.conf', 'toString'])).toBe(
      'certs renew: unknown certificate "kubelet.conf", "toString"; valid names: all, admin.conf, apiserver, ' +
        'apiserver-etcd-client, apiserver-kubelet-client, controller-manager.conf, etcd-healthcheck-client, ' +
        'etcd-peer, etcd-server, front-proxy-client, scheduler.conf, super-admin.conf',
    );
    expect(refusal(['all', 'apiserver'])).toMatch(/give either all or certificate names/);
  });

  it('names the files kprov installs: `all` is every renewed file but the unchanged CA certificates', async () => {
    const plan = await planCluster(new MemoryStore(), cfg, [m1, m2]);
    const all = renewalFor(['all']).files;
    const renewed = (node: string) =>
      renewedFiles(plan.files[node])
        .map((f) => f.path)
        .filter((p) => !/\/(ca|front-proxy-ca|etcd\/ca)\.crt$/.test(p));
    expect(renewed('m1').sort()).toEqual([...all].sort());
    // super-admin.conf is the first master's only, as kubeadm's.
    expect(renewed('m2').sort()).toEqual(all.filter((p) => !p.endsWith('/super-admin.conf')).sort());
  });

  it('renews only the named files in the saved PKI, with their keys', async () => {
    const store = new MemoryStore();
    await planCluster(store, cfg, [m1]);
    const before = new Map([...store.files].map(([path, f]) => [path, f.content]));
    const { files } = renewalFor(['apiserver', 'scheduler.conf']);
    await planCluster(store, cfg, [m1], { renew: (path) => files.includes(path) });
    const changed = [...store.files].filter(([path, f]) => before.get(path) !== f.content).map(([path]) => path);
    // The key stays: only the certificate and the kubeconfig (whose key is the same) are new.
    expect(changed).toEqual(['nodes/m1/apiserver.crt', 'nodes/m1/kubeconfig/scheduler.conf']);
  });
});
