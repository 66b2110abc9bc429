import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Condition, Node } from '../../src/kube/types.js';
import { kprov, SYNC_TIMEOUT_MS } from '../helpers/cli.js';
import { vmBridgeName, vmRuleComment, vmTapName } from '../../src/lab/vm-config.js';
import { vmRoot } from '../../src/lab/vm-driver.js';
import { artifactBundle, kubectlWith, startLab, type E2eLab, type PodJson } from '../e2e/support.js';

// kprov on a real machine with its own kernel, cgroup v2 only (kprov lab up --driver vm: a QEMU VM booting Debian's
// kernel), where every container lab shares this machine's cgroup v1 kernel. One VM is both master and worker:
// under software emulation each VM costs a host core. Its own project (npm run test:e2e:vm): needs qemu-system-x86
// and qemu-utils, and is too slow for CI's budget. Timings are printed for the issue notes, never asserted.
// A control plane needs KVM: under software emulation on 2 cores the API server answers too slowly for its liveness
// probe and kprov init stops at its wait (README, VM labs); everything else here passes under emulation.
const LAB = 'vme2e';
let e2e: E2eLab;
let env: Record<string, string>;
let inventory: string;
let kubeconfig: string;
const { kubectl, kjson, kubectlWait } = kubectlWith(() => kubeconfig);

describe('kprov prepare and init on a VM lab: one cgroup v2 host, master and worker', () => {
  beforeAll(async () => {
    const bundle = await artifactBundle();
    e2e = await startLab(LAB, 1, 0, bundle, ['--driver', 'vm']);
    ({ env } = e2e);
    expect(e2e.lab.driver).toBe('vm');
    // The one host is in both groups, so kprov leaves its control-plane node schedulable (kubeadm's rule).
    const doc = parse(readFileSync(e2e.lab.inventory, 'utf8'));
    doc.all.vars.artifacts_dir = bundle;
    doc.all.children.workers.hosts = { ...doc.all.children.masters.hosts };
    inventory = join(e2e.home, 'inventory.yaml');
    writeFileSync(inventory, stringify(doc));
  });

  afterAll(async () => {
    await e2e?.down();
  });

  it('is a machine of its own: its own kernel, cgroup v2 only, no container-lab kubelet settings', async () => {
    expect((await e2e.nodes.exec('master1', 'stat -fc %T /sys/fs/cgroup')).trim()).toBe('cgroup2fs');
    const kernel = (await e2e.nodes.exec('master1', 'uname -r')).trim();
    expect(kernel).not.toBe((await import('node:os')).release());
    const vars = parse(readFileSync(inventory, 'utf8')).all.vars;
    expect(vars.kubelet_configuration).toBeUndefined();
    expect(vars.kube_proxy_configuration).toBeUndefined();
  });

  it('prepares the host: sudo user and container runtime, on cgroup v2', async () => {
    const r = await kprov(['prepare', inventory], env);
    console.log(`kprov prepare on a VM: ${r.ms} ms`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // containerd drives cgroups through systemd on a cgroup v2 host, as the kubelet will.
    const config = await e2e.nodes.exec('master1', 'cat /etc/containerd/config.toml');
    expect(config).toMatch(/SystemdCgroup\s*=\s*true/);
  });

  it('brings up a Ready node that runs a pod', async () => {
    const r = await kprov(['init', inventory, '--ready-timeout', '1200'], env);
    console.log(`kprov init on a VM (1 node, master and worker): ${r.ms} ms`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    kubeconfig = /admin kubeconfig: (\S+)/.exec(r.stdout)![1];
    const nodes = kjson('get', 'nodes').items as Node[];
    expect(nodes.map((n) => n.metadata.name)).toEqual(['master1']);
    expect(nodes[0].status?.conditions?.find((c: Condition) => c.type === 'Ready')?.status).toBe('True');
    const kubelet = await e2e.nodes.exec('master1', 'cat /var/lib/kubelet/config.yaml');
    expect(kubelet).toMatch(/cgroupDriver: systemd/);
    expect(kubelet).not.toMatch(/cgroupRoot/);

    kubectl('create', 'deployment', 'web', '--image=kprov.local/nginx:1', '--port=80');
    await kubectlWait('rollout', 'status', 'deployment/web', '--timeout=600s');
    const pod = (kjson('get', 'pods', '-l', 'app=web').items as PodJson[])[0];
    expect(pod.spec.nodeName).toBe('master1');
    // The pod's cgroup is a cgroup v2 one under the kubepods slice.
    const served = await e2e.nodes.exec('master1', `curl -sf -m 10 http://${pod.status.podIP}/`);
    expect(served).toContain('nginx');
    const cgroups = await e2e.nodes.exec('master1', 'ls /sys/fs/cgroup/kubepods.slice');
    expect(cgroups).toContain('kubepods-besteffort.slice');
  });

  it('keeps its VM after kprov exits: lab ls finds it, and it stops and starts again', async () => {
    const listed = async () => (await kprov(['lab', 'ls'], env)).stdout;
    expect(await listed()).toContain(`${e2e.lab.name}\tvm\t1/1 running\t`);
    await e2e.nodes.stop('master1');
    expect(await listed()).toContain(`${e2e.lab.name}\tvm\t0/1 running\t`);
    const t = Date.now();
    await e2e.nodes.start('master1');
    console.log(`VM restarted, sshd answering, in ${Date.now() - t} ms`);
    expect((await e2e.nodes.exec('master1', 'hostname; ip -4 -o addr show eth0')).split('\n')[0]).toBe('master1');
    await kubectlWait('wait', '--for=condition=Ready', 'node/master1', '--timeout=900s');
  });

  it('lab down removes the VM, its tap, the bridge and the iptables rules', async () => {
    const lab = e2e.lab;
    const down = await kprov(['lab', 'down', '--name', lab.name], env);
    expect(down.code, down.stderr).toBe(0);
    const vmDir = join(vmRoot(), lab.nodes[0].container);
    expect(existsSync(vmDir), vmDir).toBe(false);
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', timeout: SYNC_TIMEOUT_MS });
    expect(links).not.toContain(`${vmBridgeName(lab.name)}:`);
    expect(links).not.toContain(`${vmTapName(lab.name, 0)}:`);
    for (const table of ['filter', 'nat']) {
      const rules = execFileSync('iptables', ['-w', '-t', table, '-S'], { encoding: 'utf8', timeout: SYNC_TIMEOUT_MS });
      expect(rules).not.toContain(vmRuleComment(lab.name));
    }
  });
});
