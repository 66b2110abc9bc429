import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { testConfig } from './fixtures.testing.js';
import { instanceConfigYaml, kubeletConfigMap, kubeletFlags, kubeletNodeConfigYaml } from './kubelet.js';

const node = { name: 'worker1', advertiseAddress: '10.0.0.11', controlPlane: false, worker: true };

describe('kubelet files for Kubernetes v1.35+', () => {
  it('passes neither the sandbox image (the v1.35 kubelet lost the flag) nor the runtime endpoint as flags', () => {
    expect(kubeletFlags(testConfig(), node)).toBe('--node-ip=10.0.0.11');
    expect(kubeletFlags(testConfig(), node, 'other-name')).toBe('--node-ip=10.0.0.11 --hostname-override=worker1');
  });

  it("puts the CRI socket in instance-config.yaml and the node's config.yaml, not in the shared ConfigMap", () => {
    const cfg = testConfig();
    expect(instanceConfigYaml(cfg)).toBe('containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock"\n');
    expect(parse(kubeletNodeConfigYaml(cfg)).containerRuntimeEndpoint).toBe(cfg.criSocket);
    const shared = parse((kubeletConfigMap(cfg) as { data: { kubelet: string } }).data.kubelet);
    expect(shared.containerRuntimeEndpoint).toBe('');
    expect(shared).not.toHaveProperty('failCgroupV1');
  });

  it('sets failCgroupV1: false on cgroup v1 hosts only, and never overrides what the operator set', () => {
    const cfg = testConfig();
    expect(parse(kubeletNodeConfigYaml(cfg, { cgroupVersion: 1 })).failCgroupV1).toBe(false);
    expect(parse(kubeletNodeConfigYaml(cfg, { cgroupVersion: 2 }))).not.toHaveProperty('failCgroupV1');
    const strict = testConfig({ kubeletConfiguration: { failCgroupV1: true } });
    expect(parse(kubeletNodeConfigYaml(strict, { cgroupVersion: 1 })).failCgroupV1).toBe(true);
  });
});
