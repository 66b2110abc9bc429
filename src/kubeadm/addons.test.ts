import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { corednsObjects, kubeProxyConfigMapData, kubeProxyConfiguration } from './addons.js';
import { testConfig } from './fixtures.testing.js';

interface CorednsContainer {
  ports: { containerPort: number; name: string; protocol: string }[];
  livenessProbe: { httpGet: { path: string; port: string; scheme: string } };
  readinessProbe: { httpGet: { path: string; port: string; scheme: string } };
}

describe('CoreDNS as kubeadm 1.35-1.37 deploys it (KA/phases/addons/dns/manifests.go)', () => {
  it('names the probe ports and probes them by name', () => {
    const deployment = corednsObjects(testConfig()).find((o) => o.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: CorednsContainer[] } } };
    };
    const c = deployment.spec.template.spec.containers[0];
    expect(c.ports).toEqual([
      { containerPort: 53, name: 'dns', protocol: 'UDP' },
      { containerPort: 53, name: 'dns-tcp', protocol: 'TCP' },
      { containerPort: 9153, name: 'metrics', protocol: 'TCP' },
      { containerPort: 8080, name: 'liveness-probe', protocol: 'TCP' },
      { containerPort: 8181, name: 'readiness-probe', protocol: 'TCP' },
    ]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health', port: 'liveness-probe', scheme: 'HTTP' });
    expect(c.readinessProbe).toEqual({ httpGet: { path: '/ready', port: 'readiness-probe', scheme: 'HTTP' } });
  });
});

describe('kube-proxy ConfigMap (KA/phases/addons/proxy/manifests.go, componentconfigs/kubeproxy.go)', () => {
  it("holds kubeconfig.conf as kubeadm's template writes it, without a final newline", () => {
    expect(kubeProxyConfigMapData(testConfig(), 'https://10.0.0.10:6443')['kubeconfig.conf']).toBe(
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- cluster:',
        '    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
        '    server: https://10.0.0.10:6443',
        '  name: default',
        'contexts:',
        '- context:',
        '    cluster: default',
        '    namespace: default',
        '    user: default',
        '  name: default',
        'current-context: default',
        'users:',
        '- name: default',
        '  user:',
        '    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token',
      ].join('\n'),
    );
  });

  it('writes config.conf with sorted keys and unindented lists, without a final newline', () => {
    const cfg = testConfig({ kubeProxyConfiguration: { nodePortAddresses: ['10.0.0.0/8'], conntrack: { min: 1 } } });
    expect(kubeProxyConfigMapData(cfg, 'https://10.0.0.10:6443')['config.conf']).toBe(
      [
        'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
        'bindAddress: 0.0.0.0',
        'clientConnection:',
        '  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf',
        'clusterCIDR: 10.244.0.0/16',
        'conntrack:',
        '  min: 1',
        'kind: KubeProxyConfiguration',
        'mode: iptables',
        'nodePortAddresses:',
        '- 10.0.0.0/8',
      ].join('\n'),
    );
  });

  it('sets mode iptables from 1.37 only; 1.35 and 1.36 leave it to kube-proxy', () => {
    expect(kubeProxyConfiguration(testConfig({ kubernetesVersion: 'v1.37.2' })).mode).toBe('iptables');
    expect(kubeProxyConfiguration(testConfig({ kubernetesVersion: 'v1.36.3' }))).not.toHaveProperty('mode');
    expect(kubeProxyConfiguration(testConfig({ kubernetesVersion: 'v1.35.4' }))).not.toHaveProperty('mode');
    const nft = testConfig({ kubernetesVersion: 'v1.37.2', kubeProxyConfiguration: { mode: 'nftables' } });
    expect(kubeProxyConfiguration(nft).mode).toBe('nftables');
  });

  it("fills kubeadm's defaults only where the user left them unset", () => {
    const cfg = testConfig({
      kubeProxyConfiguration: { clientConnection: { qps: 50 }, bindAddress: '', clusterCIDR: '10.32.0.0/12' },
    });
    expect(kubeProxyConfiguration(cfg)).toMatchObject({
      bindAddress: '0.0.0.0',
      clientConnection: { qps: 50, kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf' },
      clusterCIDR: '10.32.0.0/12',
    });
    const own = testConfig({ kubeProxyConfiguration: { clientConnection: { kubeconfig: '/etc/kp.conf' } } });
    expect(kubeProxyConfiguration(own).clientConnection).toEqual({ kubeconfig: '/etc/kp.conf' });
    expect(kubeProxyConfiguration(testConfig({ podSubnet: '' }))).not.toHaveProperty('clusterCIDR');
    expect(parse(kubeProxyConfigMapData(cfg, 'https://x:6443')['config.conf']).kind).toBe('KubeProxyConfiguration');
  });
});
