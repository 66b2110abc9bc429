import { beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { loadInventory } from '../config/inventory.js';
import { resolveSettings } from '../config/settings.js';
import { UserError, UserErrors } from '../errors/index.js';
import { renderToDirectory } from './render.js';
import { renderNormalized } from './render-snapshot.testing.js';

/**
 * Dual-stack (issue 12) as kubeadm renders it, checked on inventories/dual-stack.yaml against its IPv4 twin (the same
 * hosts without node_ip6 and the IPv6 halves): exactly the files kubeadm changes for dual-stack differ, in exactly
 * the flags and fields it changes.
 */
const repo = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const DUAL = repo('inventories/dual-stack.yaml');
const POD = '10.244.0.0/16,fd00:10:244::/56';
const SVC = '10.96.0.0/12,fd00:10:96::/112';

function ipv4Twin(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kprov-twin-'));
  const file = join(dir, 'inventory.yaml');
  const text = readFileSync(DUAL, 'utf8')
    .replace(/, node_ip6: "[^"]+"/g, '')
    .replace(/(cidr: [0-9./]+),\S+/g, '$1');
  expect(text).not.toContain(':0:');
  writeFileSync(file, text);
  return file;
}

const yamlDocs = (text: string) => parseAllDocuments(text).map((d) => d.toJSON());
const command = (manifest: string) => parse(manifest).spec.containers[0].command as string[];

describe('kprov init --dry-run of a dual-stack inventory', () => {
  let dual: Map<string, { mode: string; content: string }>;
  let ipv4: Map<string, { mode: string; content: string }>;
  const file = (path: string) => dual.get(path)!.content;
  beforeAll(async () => {
    [dual, ipv4] = await Promise.all([renderNormalized(DUAL), renderNormalized(ipv4Twin())]);
  });

  it('changes exactly the files kubeadm changes for dual-stack, and places no other file', () => {
    expect([...dual.keys()]).toEqual([...ipv4.keys()]);
    const changed = [...dual.keys()].filter((p) => dual.get(p)!.content !== ipv4.get(p)!.content);
    expect(changed.sort()).toEqual(
      [
        'cluster/03-kubeadm-config.yaml',
        'cluster/06-kube-proxy.yaml',
        'cluster/07-flannel.yaml',
        'master/etc/kubernetes/manifests/kube-apiserver.yaml',
        'master/etc/kubernetes/manifests/kube-controller-manager.yaml',
        'master/var/lib/kubelet/kubeadm-flags.env',
        'worker1/var/lib/kubelet/kubeadm-flags.env',
        'worker2/var/lib/kubelet/kubeadm-flags.env',
      ].sort(),
    );
  });

  it('kube-apiserver: --service-cluster-ip-range lists both service networks, nothing else moves', () => {
    const before = command(ipv4.get('master/etc/kubernetes/manifests/kube-apiserver.yaml')!.content);
    const after = command(file('master/etc/kubernetes/manifests/kube-apiserver.yaml'));
    expect(after).toEqual(
      before.map((a) => (a.startsWith('--service-cluster-ip-range=') ? `--service-cluster-ip-range=${SVC}` : a)),
    );
    expect(after).toContain('--advertise-address=10.0.0.10');
  });

  it('kube-controller-manager: --cluster-cidr and --service-cluster-ip-range list both, no node mask flags', () => {
    const before = command(ipv4.get('master/etc/kubernetes/manifests/kube-controller-manager.yaml')!.content);
    const after = command(file('master/etc/kubernetes/manifests/kube-controller-manager.yaml'));
    expect(after).toEqual(
      before.map((a) =>
        a.startsWith('--cluster-cidr=')
          ? `--cluster-cidr=${POD}`
          : a.startsWith('--service-cluster-ip-range=')
            ? `--service-cluster-ip-range=${SVC}`
            : a,
      ),
    );
    expect(after).toContain('--allocate-node-cidrs=true');
    // kubeadm sets no --node-cidr-mask-size*: the controller-manager's defaults (/24 and /64) apply.
    expect(after.filter((a) => a.startsWith('--node-cidr-mask-size'))).toEqual([]);
  });

  it("the API server certificate has kubeadm's SANs: the primary service IP and the advertise address", async () => {
    // The normalized snapshots compared equal above; here the real certificate, read with Node's X.509 parser.
    const out = mkdtempSync(join(tmpdir(), 'kprov-dual-out-'));
    await renderToDirectory(resolveSettings(loadInventory(DUAL), { offline: true }), { out });
    const cert = new X509Certificate(readFileSync(join(out, 'master/etc/kubernetes/pki/apiserver.crt')));
    expect(cert.subjectAltName).toBe(
      'DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, ' +
        'DNS:master, IP Address:10.96.0.1, IP Address:10.0.0.10',
    );
    expect(readFileSync(join(out, 'worker1/var/lib/kubelet/kubeadm-flags.env'), 'utf8')).toBe(
      'KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.11,fd00:10:0:1::11"\n',
    );
  });

  it('every kubelet registers both its addresses, IPv4 first; clusterDNS stays the IPv4 kube-dns address', () => {
    expect(file('master/var/lib/kubelet/kubeadm-flags.env')).toBe(
      'KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.10,fd00:10:0:1::10"\n',
    );
    expect(file('worker2/var/lib/kubelet/kubeadm-flags.env')).toBe(
      'KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.12,fd00:10:0:1::12"\n',
    );
    expect(parse(file('worker1/var/lib/kubelet/config.yaml')).clusterDNS).toEqual(['10.96.0.10']);
  });

  it('kubeadm-config: ClusterConfiguration networking with both lists', () => {
    const [cm] = yamlDocs(file('cluster/03-kubeadm-config.yaml'));
    expect(parse(cm.data.ClusterConfiguration).networking).toEqual({
      dnsDomain: 'cluster.local',
      podSubnet: POD,
      serviceSubnet: SVC,
    });
  });

  it('kube-proxy: clusterCIDR lists both pod networks (bindAddress stays 0.0.0.0, as kubeadm for IPv4 nodes)', () => {
    const cm = yamlDocs(file('cluster/06-kube-proxy.yaml')).find((o) => o.kind === 'ConfigMap');
    const config = parse(cm.data['config.conf']);
    expect(config.clusterCIDR).toBe(POD);
    expect(config.bindAddress).toBe('0.0.0.0');
    expect(cm.metadata.annotations['kubeadm.kubernetes.io/component-config.hash']).toMatch(/^sha256:/);
  });

  it("flannel: net-conf.json turns on IPv6 with the IPv6 pod network, as flannel v0.28's documentation says", () => {
    const cm = yamlDocs(file('cluster/07-flannel.yaml')).find((o) => o.kind === 'ConfigMap');
    expect(cm.data['net-conf.json']).toBe(
      JSON.stringify(
        {
          Network: '10.244.0.0/16',
          IPv6Network: 'fd00:10:244::/56',
          EnableIPv4: true,
          EnableIPv6: true,
          EnableNFTables: false,
          Backend: { Type: 'vxlan' },
        },
        null,
        2,
      ),
    );
    const before = yamlDocs(ipv4.get('cluster/07-flannel.yaml')!.content).find((o) => o.kind === 'ConfigMap');
    expect(cm.data['cni-conf.json']).toBe(before.data['cni-conf.json']);
  });
});

describe('dual-stack networks and node_ip6 must agree, inventory and --config together', () => {
  async function renderErrors(inventory: string, configFile?: string): Promise<string[]> {
    const out = mkdtempSync(join(tmpdir(), 'kprov-dual-err-'));
    try {
      await renderToDirectory(resolveSettings(loadInventory(inventory), { offline: true }), { out, configFile });
    } catch (err) {
      if (err instanceof UserErrors) return err.errors.map((e) => e.toString());
      if (err instanceof UserError) return [err.toString()];
      throw err;
    }
    throw new Error('expected errors');
  }
  const config = (networking: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'kprov-dual-cfg-'));
    const f = join(dir, 'kubeadm.yaml');
    writeFileSync(f, `apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking:\n${networking}`);
    return f;
  };

  it('dual-stack networks from --config need node_ip6 on every host', async () => {
    const f = config(`  podSubnet: ${POD}\n  serviceSubnet: ${SVC}\n`);
    const errs = await renderErrors(ipv4Twin(), f);
    expect(errs).toHaveLength(3);
    expect(errs[0]).toMatch(
      /inventory\.yaml:11: host "master": node_ip6 is required: the pod and service networks are dual-stack/,
    );
  });

  it('node_ip6 with IPv4 networks from --config is refused where node_ip6 is set', async () => {
    const f = config('  podSubnet: 10.32.0.0/12\n  serviceSubnet: 10.96.0.0/12\n');
    const errs = await renderErrors(DUAL, f);
    expect(errs[0]).toMatch(
      /dual-stack\.yaml:11: host "master": node_ip6 fd00:10:0:1::10 is set but the pod and service/,
    );
  });

  it('a --config that makes only one network dual-stack is refused', async () => {
    const f = config('  serviceSubnet: 10.96.0.0/12\n');
    expect((await renderErrors(DUAL, f))[0]).toMatch(
      /kubeadm\.yaml: pod network 10\.244\.0\.0\/16,fd00:10:244::\/56 and service network 10\.96\.0\.0\/12 must both/,
    );
  });
});
