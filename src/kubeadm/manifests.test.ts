import { describe, expect, it } from 'vitest';
import {
  command,
  etcdManifest,
  etcdProbeTarget,
  kubeApiServerManifest,
  kubeControllerManagerManifest,
  kubeSchedulerManifest,
} from './manifests.js';
import { testConfig } from './fixtures.testing.js';
import { RELEASES, SUPPORTED_MINORS } from './versions.js';
import type { ClusterConfig } from './config.js';

const master = { name: 'm1', advertiseAddress: '10.0.0.10', controlPlane: true, worker: false };

interface HttpGet {
  host?: string;
  path: string;
  port: string | number;
  scheme: string;
}
interface Container {
  command: string[];
  ports: unknown[];
  livenessProbe?: { httpGet: HttpGet };
  readinessProbe?: { httpGet: HttpGet };
  startupProbe?: { httpGet: HttpGet };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Pod {
  spec: { containers: Container[]; volumes: { name: string; hostPath: { path: string; type: string } }[] };
}

const pods = (cfg: ClusterConfig) =>
  ({
    'kube-apiserver': kubeApiServerManifest(cfg, master),
    'kube-controller-manager': kubeControllerManagerManifest(cfg),
    'kube-scheduler': kubeSchedulerManifest(cfg),
    etcd: etcdManifest(cfg, master),
  }) as unknown as Record<string, Pod>;
const container = (pod: unknown) => (pod as Pod).spec.containers[0];
const probesOf = (c: Container) => [c.livenessProbe, c.readinessProbe, c.startupProbe].filter((p) => p !== undefined);
const versions = SUPPORTED_MINORS.map((m) => RELEASES[m].tested);

describe('static pod probes (kubeadm 1.34+: a named probe-port)', () => {
  it.each(versions)('%s: every container declares probe-port and every probe uses it', (version) => {
    const expected: Record<string, [number, string | undefined, string, number]> = {
      // port, probe host, scheme, number of probes
      'kube-apiserver': [6443, '10.0.0.10', 'HTTPS', 3],
      'kube-controller-manager': [10257, '127.0.0.1', 'HTTPS', 2],
      'kube-scheduler': [10259, '127.0.0.1', 'HTTPS', 3],
      etcd: [2381, '127.0.0.1', 'HTTP', 3],
    };
    for (const [name, pod] of Object.entries(pods(testConfig({ kubernetesVersion: version })))) {
      const [port, host, scheme, count] = expected[name];
      const c = container(pod);
      expect(c.ports, name).toEqual([{ containerPort: port, name: 'probe-port', protocol: 'TCP' }]);
      expect(Object.keys(c.ports[0] as object), name).toEqual(['containerPort', 'name', 'protocol']);
      const probes = probesOf(c);
      expect(probes, name).toHaveLength(count);
      for (const p of probes) expect(p.httpGet, name).toMatchObject({ host, port: 'probe-port', scheme });
    }
  });

  it('puts ports between name and readinessProbe, as Go marshals a Container (keys sorted)', () => {
    const keys = Object.keys(container(kubeApiServerManifest(testConfig(), master)));
    expect(keys).toEqual([...keys].sort());
    expect(keys.slice(keys.indexOf('name'), keys.indexOf('name') + 3)).toEqual(['name', 'ports', 'readinessProbe']);
  });

  it('probes kcm and the scheduler on the bind-address from their extra args, none for a wildcard', () => {
    const cfg = testConfig({
      controllerManagerExtraArgs: { 'bind-address': '0.0.0.0' },
      schedulerExtraArgs: { 'bind-address': '10.0.0.10' },
    });
    for (const p of probesOf(container(kubeControllerManagerManifest(cfg)))) {
      expect(p.httpGet).toEqual({ path: '/healthz', port: 'probe-port', scheme: 'HTTPS' });
    }
    for (const p of probesOf(container(kubeSchedulerManifest(cfg)))) expect(p.httpGet.host).toBe('10.0.0.10');
  });

  it("probes etcd on the first of the user's --listen-metrics-urls, and declares that port", () => {
    expect(etcdProbeTarget({})).toEqual({ host: '127.0.0.1', port: 2381, scheme: 'HTTP' });
    expect(etcdProbeTarget({ 'listen-metrics-urls': 'https://10.0.0.10:2382,http://127.0.0.1:2381' })).toEqual({
      host: '10.0.0.10',
      port: 2382,
      scheme: 'HTTPS',
    });
    expect(etcdProbeTarget({ 'listen-metrics-urls': 'http://0.0.0.0' })).toEqual({
      host: '0.0.0.0',
      port: 2381,
      scheme: 'HTTP',
    });
    expect(etcdProbeTarget({ 'listen-metrics-urls': 'http://:2383' }).host).toBe('127.0.0.1');
    expect(etcdProbeTarget({ 'listen-metrics-urls': 'http://x:bad' })).toEqual(etcdProbeTarget({}));
    const c = container(
      etcdManifest(testConfig({ etcdExtraArgs: { 'listen-metrics-urls': 'http://10.0.0.10:2390' } }), master),
    );
    expect(c.ports).toEqual([{ containerPort: 2390, name: 'probe-port', protocol: 'TCP' }]);
    expect(c.livenessProbe?.httpGet).toEqual({ host: '10.0.0.10', path: '/livez', port: 'probe-port', scheme: 'HTTP' });
  });
});

describe('command lines (kubeadm 1.35+ ArgumentsToCommand)', () => {
  it('sorts the defaults, drops the overridden ones, then appends the extra args in the order given', () => {
    expect(command('x', { c: '3', a: '1', b: '2' }, { z: '26', b: 'B', m: '13' })).toEqual([
      'x',
      '--a=1',
      '--c=3',
      '--z=26',
      '--b=B',
      '--m=13',
    ]);
    expect(command('x', { b: '2', a: '1' }, {})).toEqual(['x', '--a=1', '--b=2']);
    // Names that are also Object.prototype members are flags like any other.
    expect(command('x', { constructor: 'c' }, {})).toEqual(['x', '--constructor=c']);
  });

  it("keeps a --config file's extra args in its order on the API server command line", () => {
    const cfg = testConfig({
      apiServerExtraArgs: { 'secure-port': '7443', 'audit-log-path': '-', 'allow-privileged': 'false' },
    });
    const cmd = container(kubeApiServerManifest(cfg, master)).command;
    expect(cmd.slice(-3)).toEqual(['--secure-port=7443', '--audit-log-path=-', '--allow-privileged=false']);
    expect(cmd.filter((a) => a.startsWith('--secure-port=') || a.startsWith('--allow-privileged='))).toHaveLength(2);
    const defaults = cmd.slice(1, -3);
    expect(defaults).toEqual([...defaults].sort());
  });

  it('leaves --authorization-mode out with --authorization-config, and follows etcd --advertise-client-urls', () => {
    const cmd = (cfg: ClusterConfig) => container(kubeApiServerManifest(cfg, master)).command;
    const structured = cmd(testConfig({ apiServerExtraArgs: { 'authorization-config': '/etc/authz.yaml' } }));
    expect(structured.some((a) => a.startsWith('--authorization-mode='))).toBe(false);
    expect(structured.at(-1)).toBe('--authorization-config=/etc/authz.yaml');
    const mode = cmd(testConfig({ apiServerExtraArgs: { 'authorization-mode': 'Node,RBAC,Webhook' } }));
    expect(mode.filter((a) => a.startsWith('--authorization-mode='))).toEqual([
      '--authorization-mode=Node,RBAC,Webhook',
    ]);
    const etcd = cmd(testConfig({ etcdExtraArgs: { 'advertise-client-urls': 'https://10.0.0.10:2379' } }));
    expect(etcd).toContain('--etcd-servers=https://10.0.0.10:2379');
    expect(cmd(testConfig())).toContain('--etcd-servers=https://127.0.0.1:2379');
  });

  it.each(versions)('%s: etcd gets the flags etcd 3.6 renamed', (version) => {
    const cmd = container(etcdManifest(testConfig({ kubernetesVersion: version }), master)).command;
    expect(cmd).toContain('--feature-gates=InitialCorruptCheck=true');
    expect(cmd).toContain('--watch-progress-notify-interval=5s');
    expect(cmd.filter((a) => a.includes('experimental'))).toEqual([]);
  });
});

describe('volumes', () => {
  const flexvolume = (cfg: ClusterConfig) => {
    const pod = kubeControllerManagerManifest(cfg) as unknown as Pod;
    return {
      volumes: pod.spec.volumes.filter((v) => v.name === 'flexvolume-dir'),
      mounts: pod.spec.containers[0].volumeMounts.filter((m) => m.name === 'flexvolume-dir'),
    };
  };
  const dir = '/usr/libexec/kubernetes/kubelet-plugins/volume/exec';

  it('v1.35: kcm mounts the flex-volume directory read-write, at --flex-volume-plugin-dir when given', () => {
    expect(flexvolume(testConfig({ kubernetesVersion: 'v1.35.4' }))).toEqual({
      volumes: [{ hostPath: { path: dir, type: 'DirectoryOrCreate' }, name: 'flexvolume-dir' }],
      mounts: [{ mountPath: dir, name: 'flexvolume-dir' }],
    });
    const custom = testConfig({
      kubernetesVersion: 'v1.35.4',
      controllerManagerExtraArgs: { 'flex-volume-plugin-dir': '/opt/flex' },
    });
    expect(flexvolume(custom).volumes[0].hostPath.path).toBe('/opt/flex');
  });

  it.each(['v1.36.3', 'v1.37.2'])('%s: kcm has no flex-volume directory', (version) => {
    expect(flexvolume(testConfig({ kubernetesVersion: version }))).toEqual({ volumes: [], mounts: [] });
    const names = (
      kubeControllerManagerManifest(testConfig({ kubernetesVersion: version })) as unknown as Pod
    ).spec.volumes.map((v) => v.name);
    expect(names).toEqual([
      'ca-certs',
      'etc-ca-certificates',
      'k8s-certs',
      'kubeconfig',
      'usr-local-share-ca-certificates',
      'usr-share-ca-certificates',
    ]);
  });

  it('mounts the CA-trust directories the master has, as kubeadm does (RHEL keeps its bundle in /etc/pki)', () => {
    const rhel = ['/etc/pki/ca-trust', '/etc/pki/tls/certs'];
    const hostPaths = (pod: Pod) => pod.spec.volumes.map((v) => v.hostPath.path);
    const api = kubeApiServerManifest(testConfig(), { ...master, caTrustDirs: rhel }) as unknown as Pod;
    const kcm = kubeControllerManagerManifest(testConfig(), rhel) as unknown as Pod;
    for (const pod of [api, kcm]) {
      expect(pod.spec.volumes.map((v) => v.name)).toEqual(
        expect.arrayContaining(['ca-certs', 'etc-pki-ca-trust', 'etc-pki-tls-certs']),
      );
      expect(hostPaths(pod)).not.toContain('/etc/ca-certificates');
      expect(pod.spec.containers[0].volumeMounts).toContainEqual({
        name: 'etc-pki-ca-trust',
        mountPath: '/etc/pki/ca-trust',
        readOnly: true,
      });
    }
    // Without the host's facts: a Debian master's three.
    expect(hostPaths(kubeApiServerManifest(testConfig(), master) as unknown as Pod)).toEqual(
      expect.arrayContaining([
        '/etc/ca-certificates',
        '/usr/share/ca-certificates',
        '/usr/local/share/ca-certificates',
      ]),
    );
  });

  it("lists etcd's mounts data first, as kubeadm does, and its volumes by name", () => {
    const pod = etcdManifest(testConfig(), master) as unknown as Pod;
    expect(pod.spec.containers[0].volumeMounts.map((m) => m.name)).toEqual(['etcd-data', 'etcd-certs']);
    expect(pod.spec.volumes.map((v) => v.name)).toEqual(['etcd-certs', 'etcd-data']);
  });
});
