import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CA_TRUST_EXTRA_DIRS } from '../kubeadm/constants.js';
import { duplicateIdentities, hostProblems, parseFacts, type Facts, FACTS_SCRIPT } from './facts.js';

const debian = [
  'os_id=debian',
  'os_version=12',
  'os_like=',
  'arch=x86_64',
  'kernel=6.1.0-18-amd64',
  'hostname=worker1',
  'machine_id=0123456789abcdef0123456789abcdef',
  'product_uuid=',
  'cpus=2',
  'mem_kb=2048000',
  'swaps=1',
  'init=systemd',
  'cri_socket=/var/run/containerd/containerd.sock',
  'pkg=apt',
  'containerd_version=1.6.20',
  'oom_lower=no',
  'ca_dir=/etc/ca-certificates',
  'ca_dir=/usr/share/ca-certificates',
].join('\n');

describe('host facts', () => {
  it('parses the facts script output', () => {
    expect(parseFacts(debian)).toEqual({
      osId: 'debian',
      osVersion: '12',
      osLike: '',
      arch: 'x86_64',
      kernel: '6.1.0-18-amd64',
      hostname: 'worker1',
      machineId: '0123456789abcdef0123456789abcdef',
      productUuid: '',
      cpus: 2,
      memoryMb: 2000,
      swapActive: true,
      initSystem: 'systemd',
      packageManager: 'apt',
      criSockets: ['/var/run/containerd/containerd.sock'],
      containerdVersion: '1.6.20',
      canLowerOomScore: false,
      cgroupVersion: 1,
      caTrustDirs: ['/etc/ca-certificates', '/usr/share/ca-certificates'],
    });
  });

  it('treats missing values safely (nothing installed, unknown package manager, a value with "=")', () => {
    const f = parseFacts('os_id=alpine\nhostname=a=b\npkg=apk\n');
    expect(f).toMatchObject({ hostname: 'a=b', packageManager: 'unknown', cpus: 0, swapActive: false, criSockets: [] });
    expect(f.containerdVersion).toBeUndefined();
    expect(f.canLowerOomScore).toBe(true);
    expect(f.cgroupVersion).toBe(1);
    expect(parseFacts('cgroup_fs=cgroup2fs\n').cgroupVersion).toBe(2);
    expect(f.caTrustDirs).toEqual([]);
  });

  it('lists the CA-trust directories the script finds, as it finds them on this machine', () => {
    expect(parseFacts(debian).caTrustDirs).toEqual(['/etc/ca-certificates', '/usr/share/ca-certificates']);
    const line = FACTS_SCRIPT.split('\n').find((l) => l.includes('ca_dir='))!;
    const found = execFileSync('bash', ['-c', line], { encoding: 'utf8' });
    const expected = CA_TRUST_EXTRA_DIRS.filter((d) => existsSync(d));
    expect(parseFacts(found).caTrustDirs).toEqual(expected);
  });

  it('names every problem that makes a host unusable', () => {
    expect(hostProblems(parseFacts(debian))).toEqual([]);
    const bad = parseFacts('os_id=alpine\narch=armv7l\ninit=openrc\n');
    expect(hostProblems(bad)).toEqual([
      'unsupported OS "alpine" (supported: Debian, Ubuntu and the RHEL family)',
      'init system is "openrc", kprov needs systemd to run containerd and kubelet',
      'unsupported architecture armv7l',
      'no apt-get, dnf or yum found',
      '/etc/machine-id is empty: run systemd-machine-id-setup',
    ]);
    expect(hostProblems(parseFacts(debian.replace('os_id=debian', 'os_id=linuxmint\nos_like=ubuntu debian')))).toEqual(
      [],
    );
  });

  it('finds cloned machines by hostname, machine-id and product_uuid; empty values do not count', () => {
    const f = parseFacts(debian);
    const hosts: { name: string; facts: Facts }[] = [
      { name: 'a', facts: f },
      { name: 'b', facts: { ...f, hostname: 'worker2' } },
      { name: 'c', facts: { ...f, hostname: 'worker3', machineId: 'other' } },
    ];
    expect(Object.fromEntries(duplicateIdentities(hosts))).toEqual({
      b: 'machine-id "0123456789abcdef0123456789abcdef" is the same as on a (cloned machine?)',
    });
  });
});
