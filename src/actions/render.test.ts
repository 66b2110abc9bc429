import { describe, expect, it, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';
import { loadInventory } from '../config/inventory.js';
import { resolveSettings } from '../config/settings.js';
import { renderToDirectory } from './render.js';
import { runCli } from '../cli/run.testing.js';
import { checkCertificates } from './certs-check.js';
import { UserError, UserErrors } from '../errors/index.js';
import { loadKubeadmConfig } from '../config/kubeadm-config-file.js';
import { DEFAULT_KUBERNETES_VERSION, releaseOf } from '../kubeadm/versions.js';

const repo = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const resolved = (inv: string) => resolveSettings(loadInventory(repo(inv)), { offline: true });
const read = (...p: string[]) => readFileSync(join(...p), 'utf8');
const yamlDocs = (text: string) => parseAllDocuments(text).map((d) => d.toJSON());
const kubectl = (...args: string[]) => execFileSync('kubectl', args, { encoding: 'utf8' });
const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });

/** The kube-apiserver flags from kubeadm-facts.md, for master 10.0.0.10. */
const FACT_SHEET_APISERVER = [
  '--advertise-address=10.0.0.10',
  '--allow-privileged=true',
  '--authorization-mode=Node,RBAC',
  '--client-ca-file=/etc/kubernetes/pki/ca.crt',
  '--enable-admission-plugins=NodeRestriction',
  '--enable-bootstrap-token-auth=true',
  '--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt',
  '--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt',
  '--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key',
  '--etcd-servers=https://127.0.0.1:2379',
  '--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt',
  '--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key',
  '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
  '--proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt',
  '--proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key',
  '--requestheader-allowed-names=front-proxy-client',
  '--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt',
  '--requestheader-extra-headers-prefix=X-Remote-Extra-',
  '--requestheader-group-headers=X-Remote-Group',
  '--requestheader-username-headers=X-Remote-User',
  '--secure-port=6443',
  '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
  '--service-account-key-file=/etc/kubernetes/pki/sa.pub',
  '--service-account-signing-key-file=/etc/kubernetes/pki/sa.key',
  '--service-cluster-ip-range=10.96.0.0/12',
  '--tls-cert-file=/etc/kubernetes/pki/apiserver.crt',
  '--tls-private-key-file=/etc/kubernetes/pki/apiserver.key',
];

describe('kprov init --dry-run: 1 master + 2 workers', () => {
  const out = mkdtempSync(join(tmpdir(), 'kprov-render-'));
  const m = join(out, 'master');
  beforeAll(async () => {
    await renderToDirectory(resolved('inventories/1-master-2-workers.ini'), { out });
  });

  it('places the files kubeadm would on each host, with kubeadm modes', () => {
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect(mode(join(m, 'etc/kubernetes/pki/ca.key'))).toBe('600');
    expect(mode(join(m, 'etc/kubernetes/pki/ca.crt'))).toBe('644');
    expect(mode(join(m, 'etc/kubernetes/pki/sa.pub'))).toBe('600');
    expect(mode(join(m, 'etc/kubernetes/manifests'))).toBe('700');
    expect(mode(join(m, 'etc/kubernetes/manifests/kube-apiserver.yaml'))).toBe('600');
    expect(mode(join(m, 'etc/kubernetes/admin.conf'))).toBe('600');
    expect(mode(join(out, 'join-command.txt'))).toBe('600');
    expect(readdirSync(join(out, 'worker1/etc/kubernetes')).sort()).toEqual(['bootstrap-kubelet.conf', 'pki']);
    expect(readdirSync(join(out, 'worker1/etc/kubernetes/pki'))).toEqual(['ca.crt']);
    expect(read(out, 'worker1/etc/kubernetes/pki/ca.crt')).toBe(read(m, 'etc/kubernetes/pki/ca.crt'));
  });

  it('kubectl reads every kubeconfig with the expected user, cluster and context', () => {
    const expected: Record<string, [string, string]> = {
      'admin.conf': ['kubernetes-admin', 'https://10.0.0.10:6443'],
      'super-admin.conf': ['kubernetes-super-admin', 'https://10.0.0.10:6443'],
      'kubelet.conf': ['system:node:master', 'https://10.0.0.10:6443'],
      'controller-manager.conf': ['system:kube-controller-manager', 'https://10.0.0.10:6443'],
      'scheduler.conf': ['system:kube-scheduler', 'https://10.0.0.10:6443'],
    };
    for (const [file, [user, server]] of Object.entries(expected)) {
      const view = JSON.parse(
        kubectl('--kubeconfig', join(m, 'etc/kubernetes', file), 'config', 'view', '--raw', '-o', 'json'),
      );
      expect(view['current-context'], file).toBe(`${user}@kubernetes`);
      expect(view.contexts[0].context).toEqual({ cluster: 'kubernetes', user });
      expect(view.clusters[0].cluster.server).toBe(server);
      expect(Buffer.from(view.clusters[0].cluster['certificate-authority-data'], 'base64').toString()).toBe(
        read(m, 'etc/kubernetes/pki/ca.crt'),
      );
      expect(view.users[0].user['client-key-data']).toBeTruthy();
    }
    const boot = JSON.parse(
      kubectl(
        '--kubeconfig',
        join(out, 'worker1/etc/kubernetes/bootstrap-kubelet.conf'),
        'config',
        'view',
        '--raw',
        '-o',
        'json',
      ),
    );
    expect(boot['current-context']).toBe('tls-bootstrap-token-user@kubernetes');
    expect(boot.users[0].user.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  });

  it('openssl verifies every certificate, including kubeconfig client certificates', () => {
    const report = checkCertificates(m);
    expect(report).toHaveLength(15);
    expect(report.filter((r) => r.status !== 'ok')).toEqual([]);
    expect(
      openssl('verify', '-CAfile', join(m, 'etc/kubernetes/pki/ca.crt'), join(m, 'etc/kubernetes/pki/apiserver.crt')),
    ).toContain(': OK');
  });

  it('renders static pods with the fact sheet flags, probes and volumes', () => {
    const api = parse(read(m, 'etc/kubernetes/manifests/kube-apiserver.yaml'));
    expect(api.kind).toBe('Pod');
    expect(api.metadata).toMatchObject({
      name: 'kube-apiserver',
      namespace: 'kube-system',
      labels: { component: 'kube-apiserver', tier: 'control-plane' },
    });
    expect(api.metadata.annotations['kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint']).toBe(
      '10.0.0.10:6443',
    );
    const c = api.spec.containers[0];
    expect(c.command).toEqual(['kube-apiserver', ...FACT_SHEET_APISERVER]);
    expect(c.image).toBe(`registry.k8s.io/kube-apiserver:${DEFAULT_KUBERNETES_VERSION}`);
    expect(c.ports).toEqual([{ containerPort: 6443, name: 'probe-port', protocol: 'TCP' }]);
    expect(c.livenessProbe).toEqual({
      failureThreshold: 8,
      httpGet: { host: '10.0.0.10', path: '/livez', port: 'probe-port', scheme: 'HTTPS' },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 15,
    });
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(api.spec).toMatchObject({
      hostNetwork: true,
      priority: 2000001000,
      priorityClassName: 'system-node-critical',
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
    });
    expect(api.spec.volumes.map((v: { name: string }) => v.name)).toEqual(
      [...api.spec.volumes.map((v: { name: string }) => v.name)].sort(),
    );

    const kcmPod = parse(read(m, 'etc/kubernetes/manifests/kube-controller-manager.yaml'));
    // Kubernetes 1.36 removed flex volumes, and kubeadm the kcm's flexvolume-dir mount.
    expect(kcmPod.spec.volumes.map((v: { name: string }) => v.name)).not.toContain('flexvolume-dir');
    const kcm = kcmPod.spec.containers[0].command;
    expect(kcm).toContain('--controllers=*,bootstrapsigner,tokencleaner');
    expect(kcm).toContain('--allocate-node-cidrs=true');
    expect(kcm).toContain('--cluster-cidr=10.244.0.0/16');
    expect(kcm).toContain('--leader-elect=true');
    expect(parse(read(m, 'etc/kubernetes/manifests/kube-scheduler.yaml')).spec.containers[0].command).toContain(
      '--leader-elect=true',
    );
    const etcd = parse(read(m, 'etc/kubernetes/manifests/etcd.yaml'));
    expect(etcd.spec.containers[0].command).toContain('--initial-cluster=master=https://10.0.0.10:2380');
    expect(etcd.spec.containers[0].command).not.toContain('--initial-cluster-state=existing');
    expect(etcd.spec.containers[0].image).toBe(`registry.k8s.io/etcd:${releaseOf(DEFAULT_KUBERNETES_VERSION).etcd}`);
    const probePorts = Object.fromEntries(
      ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((name) => {
        const pod = parse(read(m, `etc/kubernetes/manifests/${name}.yaml`));
        const container = pod.spec.containers[0];
        const probes = ['livenessProbe', 'readinessProbe', 'startupProbe'].filter((p) => container[p]);
        expect(probes.map((p) => container[p].httpGet.port)).toEqual(probes.map(() => 'probe-port'));
        return [name, container.ports];
      }),
    );
    const probePort = (containerPort: number) => [{ containerPort, name: 'probe-port', protocol: 'TCP' }];
    expect(probePorts).toEqual({
      etcd: probePort(2381),
      'kube-apiserver': probePort(6443),
      'kube-controller-manager': probePort(10257),
      'kube-scheduler': probePort(10259),
    });
  });

  it('renders kubelet files and every cluster object as parseable YAML with the expected kinds', () => {
    const kubelet = parse(read(out, 'worker1/var/lib/kubelet/config.yaml'));
    expect(kubelet).toMatchObject({
      kind: 'KubeletConfiguration',
      cgroupDriver: 'systemd',
      clusterDNS: ['10.96.0.10'],
      clusterDomain: 'cluster.local',
      staticPodPath: '/etc/kubernetes/manifests',
      rotateCertificates: true,
    });
    expect(kubelet.containerRuntimeEndpoint).toBe('unix:///run/containerd/containerd.sock');
    expect(read(out, 'worker1/var/lib/kubelet/instance-config.yaml')).toBe(
      'containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock"\n',
    );
    expect(read(out, 'worker1/var/lib/kubelet/kubeadm-flags.env')).toBe('KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.11"\n');
    expect(read(out, 'worker1/etc/systemd/system/kubelet.service.d/10-kubeadm.conf')).toContain(
      'ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS ' +
        '$KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS',
    );

    const kinds = (f: string) => yamlDocs(read(out, 'cluster', f)).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds('00-rbac.yaml')).toContain('ClusterRoleBinding/kubeadm:kubelet-bootstrap');
    expect(kinds('00-rbac.yaml')).toContain('RoleBinding/kubeadm:bootstrap-signer-clusterinfo');
    expect(kinds('01-bootstrap-token.yaml')).toEqual([expect.stringMatching(/^Secret\/bootstrap-token-[a-z0-9]{6}$/)]);
    expect(kinds('05-coredns.yaml')).toEqual([
      'ServiceAccount/coredns',
      'ClusterRole/system:coredns',
      'ClusterRoleBinding/system:coredns',
      'ConfigMap/coredns',
      'Deployment/coredns',
      'Service/kube-dns',
    ]);
    expect(kinds('06-kube-proxy.yaml')).toContain('DaemonSet/kube-proxy');
    expect(kinds('07-flannel.yaml')).toEqual([
      'Namespace/kube-flannel',
      'ServiceAccount/flannel',
      'ClusterRole/flannel',
      'ClusterRoleBinding/flannel',
      'ConfigMap/kube-flannel-cfg',
      'DaemonSet/kube-flannel-ds',
    ]);
    const dns = yamlDocs(read(out, 'cluster/05-coredns.yaml'));
    expect(dns.find((o) => o.kind === 'Service').spec.clusterIP).toBe('10.96.0.10');
    const flannelCfg = yamlDocs(read(out, 'cluster/07-flannel.yaml')).find((o) => o.kind === 'ConfigMap');
    expect(JSON.parse(flannelCfg.data['net-conf.json'])).toEqual({
      Network: '10.244.0.0/16',
      EnableNFTables: false,
      Backend: { Type: 'vxlan' },
    });
    const proxy = parse(
      yamlDocs(read(out, 'cluster/06-kube-proxy.yaml')).find((o) => o.kind === 'ConfigMap').data['config.conf'],
    );
    expect(proxy).toMatchObject({ kind: 'KubeProxyConfiguration', clusterCIDR: '10.244.0.0/16', mode: 'iptables' });
    const info = yamlDocs(read(out, 'cluster/02-cluster-info.yaml'))[0];
    expect(parse(info.data.kubeconfig).clusters[0]).toMatchObject({
      name: '',
      cluster: { server: 'https://10.0.0.10:6443' },
    });
    const patches = parse(read(out, 'cluster/control-plane-node-patches.yaml'));
    expect(patches.master.spec.taints).toEqual([
      { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
    ]);
    expect(patches.master.metadata.labels).toEqual({
      'node-role.kubernetes.io/control-plane': '',
      'node.kubernetes.io/exclude-from-external-load-balancers': '',
    });
  });

  it('writes the join command with the CA hash kprov ca-hash prints', async () => {
    const join_ = read(out, 'join-command.txt');
    const hash = (await runCli('ca-hash', join(m, 'etc/kubernetes/pki/ca.crt'))).out.trim();
    expect(join_).toMatch(
      new RegExp(
        `^kubeadm join 10\\.0\\.0\\.10:6443 --token [a-z0-9]{6}\\.[a-z0-9]{16} ` +
          `--discovery-token-ca-cert-hash ${hash}\\n$`,
      ),
    );
  });

  it('a second run with the same PKI directory reuses the CA and every certificate', async () => {
    const ca = read(m, 'etc/kubernetes/pki/ca.crt');
    const token = read(out, 'join-command.txt');
    const again = await renderToDirectory(resolved('inventories/1-master-2-workers.ini'), { out });
    expect(again.plan.events.every((e) => e.action === 'reused')).toBe(true);
    expect(read(m, 'etc/kubernetes/pki/ca.crt')).toBe(ca);
    expect(read(out, 'join-command.txt')).toBe(token);
  });
});

describe('kprov init --dry-run: 3 masters + 2 workers', () => {
  const out = mkdtempSync(join(tmpdir(), 'kprov-render3-'));
  beforeAll(async () => {
    await renderToDirectory(resolved('inventories/3-masters-2-workers.yaml'), {
      out,
      configFile: repo('test/fixtures/kubeadm/config.yaml'),
    });
  });

  it('shares CAs and the SA key, gives each master its own leaves, and stacks etcd', () => {
    for (const f of ['ca.crt', 'ca.key', 'etcd/ca.key', 'front-proxy-ca.crt', 'sa.key']) {
      expect(read(out, 'master2/etc/kubernetes/pki', f)).toBe(read(out, 'master1/etc/kubernetes/pki', f));
    }
    expect(read(out, 'master2/etc/kubernetes/pki/apiserver.crt')).not.toBe(
      read(out, 'master1/etc/kubernetes/pki/apiserver.crt'),
    );
    const sans = openssl(
      'x509',
      '-in',
      join(out, 'master3/etc/kubernetes/pki/apiserver.crt'),
      '-noout',
      '-ext',
      'subjectAltName',
    );
    expect(sans).toContain('DNS:k8s-api.example.internal');
    expect(sans).toContain('DNS:api.example.com');
    expect(sans).toContain('IP Address:192.0.2.10');
    expect(sans).toContain('IP Address:10.0.1.13');
    const etcd3 = parse(read(out, 'master3/etc/kubernetes/manifests/etcd.yaml')).spec.containers[0].command;
    expect(etcd3).toContain(
      '--initial-cluster=master1=https://10.0.1.11:2380,master2=https://10.0.1.12:2380,master3=https://10.0.1.13:2380',
    );
    expect(etcd3).toContain('--initial-cluster-state=existing');
    expect(existsSync(join(out, 'master1/etc/kubernetes/super-admin.conf'))).toBe(true);
    expect(existsSync(join(out, 'master2/etc/kubernetes/super-admin.conf'))).toBe(false);
    expect(existsSync(join(out, 'master2/etc/kubernetes/bootstrap-kubelet.conf'))).toBe(true);
    const admin = JSON.parse(
      kubectl('--kubeconfig', join(out, 'master2/etc/kubernetes/admin.conf'), 'config', 'view', '--raw', '-o', 'json'),
    );
    expect(admin.clusters[0].cluster.server).toBe('https://k8s-api.example.internal:6443');
    const cm = JSON.parse(
      kubectl(
        '--kubeconfig',
        join(out, 'master2/etc/kubernetes/controller-manager.conf'),
        'config',
        'view',
        '--raw',
        '-o',
        'json',
      ),
    );
    expect(cm.clusters[0].cluster.server).toBe('https://10.0.1.12:6443');
  });

  it('applies the kubeadm config file: ECDSA keys, extra args, kubelet and kube-proxy fields', () => {
    expect(read(out, 'master1/etc/kubernetes/pki/apiserver.key')).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    // kubeadm 1.35+: extra args follow the sorted defaults.
    expect(
      parse(read(out, 'master1/etc/kubernetes/manifests/kube-apiserver.yaml')).spec.containers[0].command.at(-1),
    ).toBe('--audit-log-maxage=7');
    expect(parse(read(out, 'worker1/var/lib/kubelet/config.yaml'))).toMatchObject({
      failSwapOn: false,
      cgroupRoot: '/kubelet',
      cgroupDriver: 'systemd',
    });
    const proxy = parse(
      yamlDocs(read(out, 'cluster/06-kube-proxy.yaml')).find((o) => o.kind === 'ConfigMap').data['config.conf'],
    );
    expect(proxy.conntrack).toEqual({ maxPerCore: 0 });
    for (const r of checkCertificates(join(out, 'master2'))) expect(r.status, r.file).toBe('ok');
  });

  it('uploads encrypted certs for joining masters and prints a control-plane join command', () => {
    const [token, secret] = yamlDocs(read(out, 'cluster/08-kubeadm-certs.yaml'));
    expect(token.stringData.description).toBe('Proxy for managing TTL for the kubeadm-certs secret');
    expect(secret.metadata.name).toBe('kubeadm-certs');
    expect(secret.metadata.ownerReferences[0].name).toBe(token.metadata.name);
    expect(Object.keys(secret.data)).toHaveLength(8);
    expect(read(out, 'join-command.txt')).toMatch(/--control-plane --certificate-key [0-9a-f]{64}/);
  });
});

describe('kubeadm config files', () => {
  it('report unsupported kinds and fields with their lines', () => {
    let err: unknown;
    try {
      loadKubeadmConfig(repo('test/fixtures/kubeadm/unsupported.yaml'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserErrors);
    expect((err as UserErrors).errors.map((e) => e.toString().replace(/^.*unsupported\.yaml/, 'F'))).toEqual([
      'F:4: ClusterConfiguration: field "etcd.external" is not supported by kprov',
      'F:6: ClusterConfiguration: field "featureGates" is not supported by kprov',
      'F:9: kind "ResetConfiguration" is not supported (supported: ClusterConfiguration, InitConfiguration, ' +
        'JoinConfiguration, KubeletConfiguration, KubeProxyConfiguration)',
    ]);
  });
});

describe('inventory values cannot inject into rendered files', () => {
  it('rejects values that would break out of their place', () => {
    const cases = [
      'image_repository="reg.io\\n  evil: true"',
      'cluster_name="x\\ny: 1"',
      'dns_domain="a b"',
      'node_name=Bad_Name',
    ];
    for (const c of cases) {
      let err: unknown;
      try {
        const dir = mkdtempSync(join(tmpdir(), 'kprov-inj-'));
        const file = join(dir, 'hosts');
        writeFileSync(
          file,
          `[masters]\nm1 ansible_host=10.0.0.1 ${c.startsWith('node_name') ? c : ''}\n` +
            `[all:vars]\n${c.startsWith('node_name') ? '' : c}\n`,
        );
        resolveSettings(loadInventory(file), { offline: true });
      } catch (e) {
        err = e;
      }
      expect(err instanceof UserError || err instanceof UserErrors, c).toBe(true);
    }
  });
});
