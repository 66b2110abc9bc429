import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseYamlInventory } from '../../config/inventory-yaml.js';
import { resolveInventory } from '../../config/inventory.js';
import { resolveSettings } from '../../config/settings.js';
import type { Facts } from '../../host/facts.js';
import { Host } from '../../host/host.js';
import { useScriptedTlsServer } from '../../kube/tls-server.testing.js';
import { caCertHash, clusterInfoKubeconfig, signDetached } from '../../kubeadm/discovery.js';
import { UPSTREAM_CLUSTER_CONFIGURATION, UPSTREAM_KUBELET_CONFIG } from '../../kubeadm/foreign.testing.js';
import { pauseImage } from '../../kubeadm/images.js';
import { MemoryStore } from '../../pki/store.js';
import { ensurePki } from '../../kubeadm/pki.js';
import { testConfig } from '../../kubeadm/fixtures.testing.js';
import { RunLog } from '../../log/logger.js';
import { FakeConnection } from '../../ssh/fake-connection.testing.js';
import { testContext } from '../context.testing.js';
import {
  foreignDiscoveryPhase,
  foreignJoinPhase,
  foreignVersion,
  foreignVersionPhase,
  type ForeignRun,
} from './foreign-join.js';

// The join phases against a scripted API server of a cluster made by upstream kubeadm init, reached through the
// joining host's (fake) SSH connection, with the inventory a kprov user would write: workers only.
const fake = useScriptedTlsServer();
const home = mkdtempSync(join(tmpdir(), 'kprov-home-'));
mkdirSync(join(home, '.ssh'));
writeFileSync(
  join(home, '.ssh', 'id_ed25519.pub'),
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n',
);
const token = { id: 'abcdef', secret: '0123456789abcdef' };
const INFO = '/api/v1/namespaces/kube-public/configmaps/cluster-info';
const NODE = '/api/v1/nodes/w1';

function serveCluster(version = 'v1.37.2') {
  const kubeconfig = clusterInfoKubeconfig('https://127.0.0.1:6443', fake.caPem);
  const data = { kubeconfig, [`jws-kubeconfig-${token.id}`]: signDetached(kubeconfig, token) };
  fake.state.answers[INFO] = [{ status: 200, body: { data } }];
  fake.state.answers['/api/v1/namespaces/kube-system/configmaps/kubeadm-config'] = [
    {
      status: 200,
      body: { data: { ClusterConfiguration: UPSTREAM_CLUSTER_CONFIGURATION.replace('v1.37.2', version) } },
    },
  ];
  fake.state.answers['/api/v1/namespaces/kube-system/configmaps/kubelet-config'] = [
    { status: 200, body: { data: { kubelet: UPSTREAM_KUBELET_CONFIG } } },
  ];
  fake.state.answers[NODE] = [{ status: 404, body: {} }];
}

function setup(opts: { vars?: string; dryRun?: boolean; onHost?: string; leftover?: boolean } = {}) {
  const text = [
    'all:',
    '  vars:',
    `    join_token: ${token.id}.${token.secret}`,
    `    discovery_token_ca_cert_hash: ${caCertHash(fake.caPem)}`,
    '    join_endpoint: 127.0.0.1:6443',
    ...(opts.vars ? [opts.vars] : []),
    '  children:',
    '    masters:',
    '      hosts: {}',
    '    workers:',
    '      hosts:',
    '        w1: { ansible_host: 10.0.0.11 }',
  ].join('\n');
  const resolved = resolveSettings(resolveInventory(parseYamlInventory(text, 'inv.yaml')), { home });
  const conn = new FakeConnection('w1', (command, o) => {
    if (o.step === 'inspect kubelet') return { stdout: opts.onHost ?? '' };
    if (o.step === 'inspect bootstrap kubeconfig') return { stdout: opts.leftover ? 'left\n' : '' };
    // Nothing on the host yet: every file is missing.
    if (o.step === 'compare files') return { stdout: 'missing\n'.repeat(command.split('echo missing').length - 1) };
    return undefined;
  });
  conn.forwarder = () => fake.dial();
  const host = new Host(resolved.hosts[0], conn.asConnection(), opts.dryRun ?? false);
  host.facts = { hostname: 'w1', cgroupVersion: 1 } as Facts;
  const logFile = join(mkdtempSync(join(tmpdir(), 'kprov-log-')), 'run.log');
  const { ctx } = testContext([host], resolved, { log: new RunLog(logFile), dryRun: opts.dryRun ?? false });
  const run: ForeignRun = {
    join: resolved.cluster.foreignJoin!,
    token,
    discovered: new Map(),
    alreadyJoined: new Set(),
    healthzPorts: new Map(),
    joined: [],
  };
  return { ctx, host, conn, run, logFile };
}

describe('joining a cluster kprov did not create: discovery and version', () => {
  it("discovers through the host's connection, takes the cluster's version when the inventory names none", async () => {
    serveCluster('v1.36.3');
    const { ctx, host, conn, run } = setup();
    await foreignDiscoveryPhase(run).runHost!(host, ctx);
    expect(conn.forwards).toEqual([
      '127.0.0.1:6443',
      '127.0.0.1:6443',
      '127.0.0.1:6443',
      '127.0.0.1:6443',
      '127.0.0.1:6443',
    ]);
    expect(fake.state.calls.at(-1)).toBe(NODE);
    const problems = await foreignVersionPhase(run).runAll!([host], ctx);
    expect(problems.size).toBe(0);
    expect(foreignVersion(run)()).toBe('v1.36.3');
    // The runtime phase pins the pause image of the cluster's minor.
    expect(ctx.resolved.cluster.kubernetesVersion).toBe('v1.36.3');
    expect(pauseImage(ctx.resolved.cluster)).toBe('registry.k8s.io/pause:3.10.2');
    expect(run.cfg).toMatchObject({ kubernetesVersion: 'v1.36.3', serviceSubnet: '10.96.0.0/12' });
  });

  it('refuses an inventory whose kubernetes_version is not the cluster’s, before anything changes', async () => {
    serveCluster('v1.36.3');
    const { ctx, host, conn, run } = setup({ vars: '    kubernetes_version: v1.37.2' });
    await foreignDiscoveryPhase(run).runHost!(host, ctx);
    const problems = await foreignVersionPhase(run).runAll!([host], ctx);
    expect(problems.get('w1')).toMatch(/^the cluster runs v1.36.3 but kubernetes_version is v1.37.2/);
    expect(host.changes).toEqual([]);
    expect(conn.execs.map((e) => e.step)).toEqual(['inspect kubelet']);
  });

  it('refuses a node name a Ready node already has, as kubeadm join does', async () => {
    serveCluster();
    fake.state.answers[NODE] = [
      { status: 200, body: { metadata: { name: 'w1' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } } },
    ];
    const { ctx, host, run } = setup();
    await expect(foreignDiscoveryPhase(run).runHost!(host, ctx)).rejects.toThrow(
      /a Ready node named w1 is already in the cluster: delete it \(kubectl delete node w1\) or give this host/,
    );
    expect(run.discovered.size).toBe(0);
  });

  it("refuses a host that trusts another cluster's CA", async () => {
    serveCluster();
    const other = (
      await ensurePki(new MemoryStore(), testConfig({ encryptionAlgorithm: 'ECDSA-P256' }), [
        { name: 'm1', advertiseAddress: '10.9.9.9', controlPlane: true, worker: false },
      ])
    ).pki.cas.ca.certPem;
    const { ctx, host, run } = setup({ onHost: `joined\n${other}` });
    await expect(foreignDiscoveryPhase(run).runHost!(host, ctx)).rejects.toThrow(
      /this host already trusts another cluster's CA/,
    );
  });

  it('keeps an already joined host: no node-name check, only its kubelet files kept in step', async () => {
    serveCluster();
    const { ctx, host, run } = setup({ onHost: `joined\n${fake.caPem}`, dryRun: true, leftover: true });
    await foreignDiscoveryPhase(run).runHost!(host, ctx);
    expect(run.alreadyJoined.has('w1')).toBe(true);
    expect(fake.state.calls).not.toContain(NODE);
    await foreignVersionPhase(run).runAll!([host], ctx);
    await foreignJoinPhase(run).runHost!(host, ctx);
    // No new bootstrap files; one a stopped run left behind (with the token in it) is removed.
    expect(host.changes.filter((c) => c.includes('bootstrap-kubelet.conf') || c.includes('ca.crt'))).toEqual([
      'remove /etc/kubernetes/bootstrap-kubelet.conf (the TLS bootstrap is done)',
    ]);
  });
});

describe('joining a cluster kprov did not create: the join, dry run', () => {
  it('plans the files kubeadm join writes, the kubelet start and TLS bootstrap; the token is not logged', async () => {
    serveCluster();
    const { ctx, host, run, logFile } = setup({
      dryRun: true,
      vars: '    kubelet_configuration: { cgroupRoot: /kubelet, failSwapOn: false }',
    });
    await foreignDiscoveryPhase(run).runHost!(host, ctx);
    await foreignVersionPhase(run).runAll!([host], ctx);
    host.changes = [];
    await foreignJoinPhase(run).runHost!(host, ctx);
    expect(host.changes).toEqual([
      'create /etc/kubernetes/pki/ca.crt',
      'create /etc/kubernetes/bootstrap-kubelet.conf',
      'create /var/lib/kubelet/config.yaml',
      'create /var/lib/kubelet/instance-config.yaml',
      'create /var/lib/kubelet/kubeadm-flags.env',
      'create /etc/systemd/system/kubelet.service.d/10-kubeadm.conf',
      'enable kubelet',
      'start kubelet',
      'TLS bootstrap with token abcdef against https://127.0.0.1:6443',
    ]);
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('discovery: cluster-info from 127.0.0.1:6443 verified with token abcdef');
    expect(log).toContain("kubelet configuration: kubelet_configuration applied over the cluster's kubelet-config");
    expect(log).toContain('kubelet configuration: failCgroupV1: false (a cgroup v1 host');
    expect(log).not.toContain(token.secret);
  });

  it('refuses a kubelet of another version than the cluster’s', async () => {
    serveCluster();
    const { ctx, host, run } = setup();
    await foreignDiscoveryPhase(run).runHost!(host, ctx);
    await foreignVersionPhase(run).runAll!([host], ctx);
    const conn = host.conn as unknown as FakeConnection;
    Object.assign(conn, {
      exec: async (command: string) => ({
        stdout: command.includes('kubelet --version') ? 'Kubernetes v1.36.3\n' : '',
        stderr: '',
        code: 0,
      }),
    });
    await expect(foreignJoinPhase(run).runHost!(host, ctx)).rejects.toThrow(
      /the kubelet installed here is v1.36.3 but the cluster runs v1.37.2/,
    );
  });
});
