import { describe, expect, it } from 'vitest';
import { parseKubeadmConfig } from './kubeadm-config.js';
import { UserError, UserErrors } from '../errors/index.js';

const CLUSTER = 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n';
const INIT = 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n';

function problems(text: string): string[] {
  try {
    parseKubeadmConfig(text, 'kubeadm.yaml');
  } catch (err) {
    if (err instanceof UserErrors) return err.errors.map((e) => e.toString());
    if (err instanceof UserError) return [err.toString()];
    throw err;
  }
  return [];
}

/** [description, document, expected "file:line: message" pattern] */
const HOSTILE: [string, string, RegExp][] = [
  [
    'imageRepository with flags',
    `${CLUSTER}imageRepository: "registry.k8s.io --anonymous-auth=true"\n`,
    /^kubeadm\.yaml:3: ClusterConfiguration: imageRepository .* is not a registry path/,
  ],
  [
    'dnsDomain with a newline',
    `${CLUSTER}networking:\n  dnsDomain: "cluster.local\\n  forward . 1.1.1.1"\n`,
    /^kubeadm\.yaml:4: ClusterConfiguration: networking\.dnsDomain .* is not a DNS domain/,
  ],
  [
    'kubernetesVersion with flags',
    `${CLUSTER}kubernetesVersion: "v1.37.2 --foo"\n`,
    /^kubeadm\.yaml:3: .*kubernetesVersion .* not a release version/,
  ],
  ['kubernetesVersion too old', `${CLUSTER}kubernetesVersion: v1.20.0\n`, /^kubeadm\.yaml:3: .*not supported/],
  [
    'controlPlaneEndpoint with a newline',
    `${CLUSTER}controlPlaneEndpoint: "lb:6443\\nx"\n`,
    /^kubeadm\.yaml:3: .*controlPlaneEndpoint .* host or host:port/,
  ],
  [
    'controlPlaneEndpoint port out of range',
    `${CLUSTER}controlPlaneEndpoint: "lb:99999"\n`,
    /^kubeadm\.yaml:3: .*host or host:port/,
  ],
  ['clusterName', `${CLUSTER}clusterName: "a b"\n`, /^kubeadm\.yaml:3: .*clusterName .* DNS label/],
  [
    'podSubnet',
    `${CLUSTER}networking:\n  podSubnet: "10.244.0.0/16 --x"\n`,
    /^kubeadm\.yaml:4: .*networking\.podSubnet/,
  ],
  [
    'serviceSubnet',
    `${CLUSTER}networking:\n  serviceSubnet: 10.96.0.1/12\n`,
    /^kubeadm\.yaml:4: .*networking\.serviceSubnet.*host bits/,
  ],
  [
    'overlapping subnets',
    `${CLUSTER}networking:\n  podSubnet: 10.96.0.0/16\n  serviceSubnet: 10.96.0.0/12\n`,
    /overlaps/,
  ],
  [
    'certSANs',
    `${CLUSTER}apiServer:\n  certSANs: [ok.example.com, "bad name"]\n`,
    /^kubeadm\.yaml:4: .*certSANs\.1 "bad name" is not a DNS name or IP/,
  ],
  [
    'extraArgs value with a newline',
    `${CLUSTER}apiServer:\n  extraArgs:\n    - name: audit-log-maxage\n      value: "7\\n--anonymous-auth=true"\n`,
    /^kubeadm\.yaml:5: .*apiServer\.extraArgs: the value of audit-log-maxage contains a control character/,
  ],
  [
    'extraArgs name with spaces',
    `${CLUSTER}controllerManager:\n  extraArgs:\n    "a b=c": x\n`,
    /^kubeadm\.yaml:5: .*flag name "a b=c"/,
  ],
  [
    'extraArgs entry without a name',
    `${CLUSTER}scheduler:\n  extraArgs:\n    - value: x\n`,
    /^kubeadm\.yaml:5: .*needs a name/,
  ],
  [
    'extraArgs name starting with a digit',
    `${CLUSTER}apiServer:\n  extraArgs:\n    - name: "10"\n      value: x\n`,
    /^kubeadm\.yaml:5: .*flag name "10" must be a letter/,
  ],
  [
    'extraArgs name given twice',
    `${CLUSTER}etcd:\n  local:\n    extraArgs:\n` +
      '      - name: a\n        value: "1"\n      - name: a\n        value: "2"\n',
    /^kubeadm\.yaml:8: .*etcd\.local\.extraArgs: a is given more than once/,
  ],
  [
    'criSocket with flags',
    `${INIT}nodeRegistration:\n  criSocket: "unix:///run/containerd/containerd.sock --root-dir=/"\n`,
    /^kubeadm\.yaml:4: InitConfiguration: nodeRegistration\.criSocket .* must be a unix socket/,
  ],
  [
    'JoinConfiguration criSocket',
    'apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\nnodeRegistration:\n  criSocket: "tcp://x"\n',
    /^kubeadm\.yaml:4: JoinConfiguration: .*must be a unix socket/,
  ],
  [
    'malformed bootstrap token',
    `${INIT}bootstrapTokens:\n  - token: "not-a-token"\n`,
    /^kubeadm\.yaml:4: InitConfiguration: bootstrapTokens\[0\]\.token is not a bootstrap token/,
  ],
  ['bootstrap token as a mapping', `${INIT}bootstrapTokens:\n  - token: {a: 1}\n`, /^kubeadm\.yaml:4: .*single value/],
  [
    'taint effect',
    `${INIT}nodeRegistration:\n  taints:\n    - key: a\n      effect: Bogus\n`,
    /^kubeadm\.yaml:5: .*effect must be one of/,
  ],
  [
    'taint key',
    `${INIT}nodeRegistration:\n  taints:\n    - key: "a b"\n      effect: NoSchedule\n`,
    /not a valid taint key/,
  ],
];

describe('audit: --config values go through the inventory validators, with file and line', () => {
  for (const [what, text, expected] of HOSTILE) {
    it(`rejects ${what}`, () => {
      const found = problems(text);
      expect(found.length, what).toBeGreaterThan(0);
      expect(
        found.some((m) => expected.test(m)),
        found.join('\n'),
      ).toBe(true);
    });
  }

  it('accepts good values and normalises them', () => {
    const cfg = parseKubeadmConfig(
      `${CLUSTER}kubernetesVersion: 1.37.2\napiServer:\n` +
        '  certSANs: [api.example.com, 192.0.2.10, "*.apps.example.com"]\n' +
        '  extraArgs:\n    - name: audit-log-maxage\n      value: "7"\n' +
        `---\n${INIT}bootstrapTokens:\n  - token: abcdef.0123456789abcdef\n` +
        `    ttl: 1h0m0s\nnodeRegistration:\n  criSocket: /run/containerd/containerd.sock\n  taints: []\n`,
      'kubeadm.yaml',
    );
    expect(cfg.cluster).toEqual({
      kubernetesVersion: 'v1.37.2',
      apiServerCertSANs: ['api.example.com', '192.0.2.10', '*.apps.example.com'],
      apiServerExtraArgs: { 'audit-log-maxage': '7' },
      criSocket: 'unix:///run/containerd/containerd.sock',
    });
    expect(cfg.token).toEqual({ token: 'abcdef.0123456789abcdef', ttlMs: 3_600_000, description: undefined });
    expect(cfg.taints).toEqual([]);
  });

  it("keeps extraArgs in the file's order (kubeadm appends them in that order), for lists and v1beta3 maps", () => {
    const list = parseKubeadmConfig(
      `${CLUSTER}scheduler:\n  extraArgs:\n` +
        '    - {name: v, value: "4"}\n    - {name: authorization-kubeconfig, value: /a}\n    - {name: b, value: "1"}\n',
      'kubeadm.yaml',
    );
    expect(Object.entries(list.cluster.schedulerExtraArgs ?? {})).toEqual([
      ['v', '4'],
      ['authorization-kubeconfig', '/a'],
      ['b', '1'],
    ]);
    const map = parseKubeadmConfig(
      'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\ncontrollerManager:\n' +
        '  extraArgs:\n    z: "1"\n    a: "2"\n',
      'kubeadm.yaml',
    );
    expect(Object.keys(map.cluster.controllerManagerExtraArgs ?? {})).toEqual(['z', 'a']);
  });
});
