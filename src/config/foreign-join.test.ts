import { describe, expect, it } from 'vitest';
import { messages, settings as ini, yamlSettings as yaml } from './settings.testing.js';

const TOKEN = 'abcdef.0123456789abcdef';
const HASH = `sha256:${'a1'.repeat(32)}`;

const workersOnly = (vars = '') => `[workers]\nw1 ansible_host=10.0.0.11\n[all:vars]\n${vars}`;
const varsFor = (token = TOKEN, hash = HASH, endpoint = '10.0.0.10:6443') =>
  `join_token=${token}\ndiscovery_token_ca_cert_hash=${hash}\njoin_endpoint=${endpoint}\n`;

describe('joining a cluster kprov did not create: settings', () => {
  it('takes the three values from the inventory and needs no control-plane group', () => {
    const r = ini(workersOnly(varsFor()));
    expect(r.cluster.foreignJoin).toEqual({ token: TOKEN, caCertHashes: [HASH], endpoint: '10.0.0.10:6443' });
    expect(r.hosts.map((h) => [h.name, h.worker, h.controlPlane])).toEqual([['w1', true, false]]);
  });

  it('takes them from the flags, which win over the vars; an empty [masters] group is fine', () => {
    const other = `sha256:${'B2'.repeat(32)}`;
    const r = ini(`[masters]\n${workersOnly(varsFor())}`, {
      token: 'zyxwvu.0123456789abcdef',
      discoveryTokenCaCertHash: [`${HASH},${other}`, HASH],
      endpoint: 'api.example.com:443',
    });
    expect(r.cluster.foreignJoin).toEqual({
      token: 'zyxwvu.0123456789abcdef',
      // Several pins, as kubeadm allows (repeated or comma-separated); upper case is lowered, duplicates dropped.
      caCertHashes: [HASH, `sha256:${'b2'.repeat(32)}`],
      endpoint: 'api.example.com:443',
    });
  });

  it('reads several hashes from a YAML list and records an explicit version and image repository', () => {
    const r = yaml(
      [
        'all:',
        '  vars:',
        `    join_token: ${TOKEN}`,
        `    discovery_token_ca_cert_hash: [${HASH}, "sha256:${'c3'.repeat(32)}"]`,
        '    join_endpoint: "[fd00::10]:6443"',
        '    kubernetes_version: 1.36.3',
        '    image_repository: mirror.example.com/k8s',
        '  children:',
        '    workers:',
        '      hosts:',
        '        w1: { ansible_host: 10.0.0.11 }',
      ].join('\n'),
    );
    expect(r.cluster.foreignJoin).toEqual({
      token: TOKEN,
      caCertHashes: [HASH, `sha256:${'c3'.repeat(32)}`],
      endpoint: '[fd00::10]:6443',
      pinnedVersion: 'v1.36.3',
      pinnedImageRepository: 'mirror.example.com/k8s',
    });
  });

  it('still needs a control plane without a foreign join', () => {
    expect(messages(() => ini(workersOnly()))[0]).toMatch(/no control-plane group/);
    expect(ini(`[masters]\nm1 ansible_host=10.0.0.1\n${workersOnly()}`).cluster.foreignJoin).toBeUndefined();
  });

  it('needs all three values or none, saying which are missing', () => {
    expect(messages(() => ini(workersOnly(`join_token=${TOKEN}\n`)))).toEqual([
      'hosts:4: join_token joins a cluster kprov did not create, which needs all three of the bootstrap token, ' +
        'the CA cert hash and the API server endpoint; missing: --discovery-token-ca-cert-hash or ' +
        'discovery_token_ca_cert_hash, --endpoint or join_endpoint ' +
        '(kubeadm token create --print-join-command on a control-plane host prints all three)',
    ]);
    const fromFlag = messages(() => ini(workersOnly(), { endpoint: '10.0.0.10:6443' }));
    expect(fromFlag).toHaveLength(1);
    expect(fromFlag[0]).toMatch(/^--endpoint joins a cluster .* missing: --token or join_token, --discovery-token/);
  });

  it('checks each value as kubeadm does, with file and line, and never echoes the token', () => {
    const bad = 'ABCDEF.0123456789abcdef';
    const errs = messages(() => ini(workersOnly(varsFor(bad, 'sha256:abc', 'https://10.0.0.10:6443'))));
    expect(errs).toEqual([
      'hosts:4: join_token is not a bootstrap token: expected [a-z0-9]{6}.[a-z0-9]{16}',
      'hosts:6: join_endpoint "https://10.0.0.10:6443" must be host:port of the cluster\'s API server, ' +
        'e.g. 10.0.0.10:6443 (without https://)',
      'hosts:5: discovery_token_ca_cert_hash "sha256:abc" is not a CA certificate hash: expected ' +
        'sha256:<64 hex digits> (kubeadm token create --print-join-command prints it)',
    ]);
    expect(errs.join('\n')).not.toContain(bad);
    expect(messages(() => ini(workersOnly(varsFor(TOKEN, HASH, '10.0.0.10'))))[0]).toMatch(
      /join_endpoint "10.0.0.10" must be host:port/,
    );
    expect(messages(() => ini(workersOnly(varsFor(TOKEN, `md5:${'a'.repeat(64)}`))))[0]).toMatch(
      /is not a CA certificate hash/,
    );
  });

  it('reports a bad flag without a file location', () => {
    expect(
      messages(() =>
        ini(workersOnly(), { token: 'nope', discoveryTokenCaCertHash: [HASH], endpoint: '10.0.0.10:6443' }),
      ),
    ).toEqual(['--token is not a bootstrap token: expected [a-z0-9]{6}.[a-z0-9]{16}']);
  });

  it('refuses to skip CA verification', () => {
    const errs = messages(() => ini(workersOnly(`${varsFor()}discovery_token_unsafe_skip_ca_verification=true\n`)));
    expect(errs).toEqual([
      'hosts:7: discovery_token_unsafe_skip_ca_verification is not supported: kprov joins only after checking the ' +
        'cluster CA against discovery_token_ca_cert_hash (kubeadm token create --print-join-command on a ' +
        'control-plane host prints it)',
    ]);
  });

  it('keeps the join vars cluster-wide', () => {
    const text = `[workers]\nw1 join_token=${TOKEN}\nw2 join_token=zzzzzz.0123456789abcdef\n[all:vars]\n`;
    expect(messages(() => ini(text + varsFor().split('\n').slice(1).join('\n')))[0]).toMatch(
      /^hosts:3: join_token is cluster-wide but differs/,
    );
  });

  it("warns about vars the cluster's own configuration replaces", () => {
    const r = ini(workersOnly(`${varsFor()}pod_network_cidr=10.32.0.0/16\ncluster_name=prod\n`));
    expect(r.warnings).toEqual([
      "pod_network_cidr (hosts:7) is ignored when joining a cluster kprov did not create: the cluster's own " +
        'configuration applies (its kubelet-config, kube-proxy and CNI)',
      "cluster_name (hosts:8) is ignored when joining a cluster kprov did not create: the cluster's own " +
        'configuration applies (its kubelet-config, kube-proxy and CNI)',
    ]);
  });
});
