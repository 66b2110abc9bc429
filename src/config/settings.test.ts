import { describe, expect, it } from 'vitest';
import { messages, settings } from './settings.testing.js';
import { parseJump, proxyJumpFrom } from './settings.js';

describe('cluster settings', () => {
  it('applies defaults', () => {
    const r = settings('[masters]\nm1 ansible_host=10.0.0.1\n[workers]\nw1 ansible_host=10.0.0.2\n');
    expect(r.cluster).toMatchObject({
      kubernetesVersion: 'v1.37.2',
      podNetworkCidr: '10.244.0.0/16',
      serviceCidr: '10.96.0.0/12',
      cni: 'flannel',
      containerRuntime: 'containerd',
      sudoUser: 'ubuntu',
      imageRepository: 'registry.k8s.io',
    });
    expect(r.cluster.sudoUserPublicKey).toMatch(/^ssh-ed25519 /);
    expect(r.hosts.map((h) => [h.name, h.address, h.port, h.user, h.nodeIp, h.controlPlane, h.worker])).toEqual([
      ['m1', '10.0.0.1', 22, 'root', '10.0.0.1', true, false],
      ['w1', '10.0.0.2', 22, 'root', '10.0.0.2', false, true],
    ]);
    expect(r.warnings).toEqual([]);
  });

  it('reads connection vars: become, passwords, jump hosts', () => {
    const r = settings(
      '[masters]\nm1 ansible_host=10.0.0.1 ansible_user=admin ansible_become_password=pw1 ' +
        "ansible_ssh_common_args='-o ProxyJump=ops@bastion:2200'\n",
    );
    const m1 = r.hosts[0];
    expect(m1).toMatchObject({
      user: 'admin',
      become: true,
      becomePassword: 'pw1',
      jump: { user: 'ops', host: 'bastion', port: 2200 },
    });
  });

  it('reports every problem at once, each with file and line', () => {
    const errs = messages(() =>
      settings(
        [
          '[masters]',
          'm1 ansible_host=10.0.0.1 ansible_port=99999',
          'm2 ansible_host=10.0.0.1',
          '[all:vars]',
          'pod_network_cidr=10.96.0.0/16',
          'kubernetes_version=1.2',
          'service_cidr=10.96.0.1/12',
        ].join('\n'),
      ),
    );
    expect(errs).toEqual(
      expect.arrayContaining([
        'hosts:2: ansible_port of host "m1" must be a port number 1-65535, got "99999"',
        'hosts:6: kubernetes_version "1.2" is not a release version like v1.37.2',
        'hosts:7: service_cidr: "10.96.0.1/12" has host bits set (network address is 10.96.0.0/12)',
      ]),
    );
  });

  it('rejects overlapping pod and service networks', () => {
    expect(messages(() => settings('[masters]\nm1\n[all:vars]\npod_network_cidr=10.96.0.0/16\n'))).toEqual([
      'hosts:4: pod_network_cidr 10.96.0.0/16 overlaps service_cidr 10.96.0.0/12',
    ]);
  });

  it('rejects duplicate addresses and a missing or empty control plane', () => {
    expect(
      messages(() => settings('[masters]\nm1 ansible_host=10.0.0.1\n[workers]\nw1 ansible_host=10.0.0.1\n'))[0],
    ).toBe('hosts:4: hosts "m1" and "w1" have the same address 10.0.0.1:22');
    expect(messages(() => settings('[workers]\nw1\n'))[0]).toMatch(/no control-plane group/);
    expect(messages(() => settings('[masters]\n[workers]\nw1\n'))[0]).toMatch(
      /control-plane group \[masters\] has no hosts/,
    );
  });

  it('rejects cluster-wide vars that differ between hosts', () => {
    expect(
      messages(() =>
        settings('[masters]\nm1 kubernetes_version=v1.37.2\n[workers]\nw1 kubernetes_version=v1.36.3\n'),
      )[0],
    ).toBe('hosts:4: kubernetes_version is cluster-wide but differs: "v1.37.2" on m1, "v1.36.3" on w1');
  });

  it('warns about an even number of control-plane hosts', () => {
    const r = settings(
      '[masters]\nm1 ansible_host=10.0.0.1\nm2 ansible_host=10.0.0.2\n' +
        '[all:vars]\ncontrol_plane_endpoint=k8s.example.com:6443\n',
    );
    expect(r.warnings.join('\n')).toMatch(/2 control-plane hosts: etcd keeps quorum best with an odd number/);
  });

  // The key validator itself (an INI value cannot hold a newline: the parser would stop first, at "unterminated").
  it('rejects a public key that is not one', () => {
    expect(messages(() => settings('[masters]\nm1\n[all:vars]\nsudo_user_public_key="ssh-rsa not/base64!"\n'))).toEqual(
      ['hosts:4: sudo_user_public_key is not an OpenSSH public key line'],
    );

    expect(messages(() => settings('[masters]\nm1\n[all:vars]\nsudo_user=root;rm\n')).join()).toMatch(
      /sudo_user "root;rm" is not a valid user name/,
    );
  });
});

describe('jump hosts', () => {
  it('parses ProxyJump forms', () => {
    expect(proxyJumpFrom('-o ProxyJump=ops@b:2200 -o StrictHostKeyChecking=no')).toBe('ops@b:2200');
    expect(proxyJumpFrom('-J bastion')).toBe('bastion');
    expect(proxyJumpFrom('-o ProxyCommand="ssh -W %h:%p b"')).toBeUndefined();
    expect(parseJump('bastion')).toEqual({ user: undefined, host: 'bastion', port: 22 });
    expect(parseJump('a@b,c@d')).toMatch(/only one jump host/);
  });
});
