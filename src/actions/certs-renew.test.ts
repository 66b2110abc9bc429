import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { runningContainersScript } from '../phases/cluster/static-pods.js';
import { renewedFiles } from '../kubeadm/renew.js';

describe('certs renew', () => {
  it('replaces leaf certificates and kprov kubeconfigs only: no keys, manifests or kubelet files', () => {
    const f = (path: string) => ({ path, content: '', mode: 0o600 });
    const files = [
      '/etc/kubernetes/pki/ca.crt',
      '/etc/kubernetes/pki/ca.key',
      '/etc/kubernetes/pki/apiserver.crt',
      '/etc/kubernetes/pki/apiserver.key',
      '/etc/kubernetes/pki/etcd/server.crt',
      '/etc/kubernetes/admin.conf',
      '/etc/kubernetes/scheduler.conf',
      '/etc/kubernetes/kubelet.conf',
      '/etc/kubernetes/bootstrap-kubelet.conf',
      '/etc/kubernetes/manifests/etcd.yaml',
      '/var/lib/kubelet/config.yaml',
    ].map(f);
    expect(renewedFiles(files).map((x) => x.path)).toEqual([
      '/etc/kubernetes/pki/ca.crt',
      '/etc/kubernetes/pki/apiserver.crt',
      '/etc/kubernetes/pki/etcd/server.crt',
      '/etc/kubernetes/admin.conf',
      '/etc/kubernetes/scheduler.conf',
    ]);
  });

  it('finds running static-pod containers with a script dash accepts', () => {
    const script = runningContainersScript('kube-apiserver');
    expect(script).toContain(`'labels."io.kubernetes.container.name"==kube-apiserver'`);
    expect(() => execFileSync('dash', ['-n', '-c', script])).not.toThrow();
  });
});
