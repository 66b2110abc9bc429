import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { ANNOTATION_COMPONENT_CONFIG_HASH, configMapChecksum } from './component-config.js';
import { kubeletConfigMap } from './kubelet.js';
import { kubeProxyObjects } from './addons.js';
import { clusterConfiguration } from './cluster-objects.js';
import { kubeSchedulerManifest } from './manifests.js';
import { testConfig } from './fixtures.testing.js';

const sha256 = (input: string) => execFileSync('sha256sum', { input, encoding: 'utf8' }).split(' ')[0];
const master = { name: 'm1', advertiseAddress: '10.0.0.10', controlPlane: true, worker: false };

// Fidelity with kubeadm (issue 12).
describe('kubeadm fidelity', () => {
  it('signs kubelet-config and kube-proxy ConfigMaps with the component-config hash (sorted keys, values only)', () => {
    const kubelet = kubeletConfigMap(testConfig());
    expect(kubelet.metadata.annotations[ANNOTATION_COMPONENT_CONFIG_HASH]).toBe(
      `sha256:${sha256(kubelet.data.kubelet)}`,
    );
    const proxy = kubeProxyObjects(testConfig(), 'https://10.0.0.10:6443').find(
      (o) => o.kind === 'ConfigMap',
    ) as unknown as {
      metadata: { annotations: Record<string, string> };
      data: Record<string, string>;
    };
    const expected = sha256(proxy.data['config.conf'] + proxy.data['kubeconfig.conf']);
    expect(proxy.metadata.annotations[ANNOTATION_COMPONENT_CONFIG_HASH]).toBe(`sha256:${expected}`);
    expect(configMapChecksum({ metadata: {}, data: { b: '2', a: '1' } })).toBe(`sha256:${sha256('12')}`);
  });

  it('records controlPlaneEndpoint in kubeadm-config only when one is configured', () => {
    expect(clusterConfiguration(testConfig(), master)).not.toHaveProperty('controlPlaneEndpoint');
    expect(
      clusterConfiguration(testConfig({ controlPlaneEndpoint: 'lb.example:6443' }), master).controlPlaneEndpoint,
    ).toBe('lb.example:6443');
  });

  it('probes kube-scheduler as kubeadm does: /livez for liveness and startup, /readyz for readiness', () => {
    const c = kubeSchedulerManifest(testConfig()).spec.containers[0] as unknown as Record<
      string,
      { httpGet: { path: string }; periodSeconds: number }
    >;
    expect(c.livenessProbe.httpGet.path).toBe('/livez');
    expect(c.startupProbe.httpGet.path).toBe('/livez');
    expect(c.readinessProbe).toMatchObject({
      httpGet: { host: '127.0.0.1', path: '/readyz', port: 'probe-port', scheme: 'HTTPS' },
      periodSeconds: 1,
      timeoutSeconds: 15,
      failureThreshold: 3,
    });
  });
});
