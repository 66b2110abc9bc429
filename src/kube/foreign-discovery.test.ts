import { describe, expect, it } from 'vitest';
import { clusterInfoKubeconfig, caCertHash, signDetached } from '../kubeadm/discovery.js';
import { UPSTREAM_CLUSTER_CONFIGURATION, UPSTREAM_KUBELET_CONFIG } from '../kubeadm/foreign.testing.js';
import { bootstrapClient, discoverForeignCluster, nodeState, splitEndpoint } from './foreign-discovery.js';
import { useScriptedTlsServer, type Answer } from './tls-server.testing.js';

// The API server of a cluster made by upstream kubeadm init, as a joining node meets it: anonymous cluster-info,
// then kubeadm-config and kubelet-config for the bootstrap token's group.
const fake = useScriptedTlsServer();
const token = { id: 'abcdef', secret: '0123456789abcdef' };
const BEARER = 'Bearer abcdef.0123456789abcdef';
const INFO = '/api/v1/namespaces/kube-public/configmaps/cluster-info';
const KUBEADM = '/api/v1/namespaces/kube-system/configmaps/kubeadm-config';
const KUBELET = '/api/v1/namespaces/kube-system/configmaps/kubelet-config';
// cluster-info names another address than the endpoint the operator gave (a load balancer, say): the kubelet and
// the token's reads go there.
const SERVER = 'https://127.0.0.1:16443';

function clusterInfo(opts: { signedWith?: typeof token } = { signedWith: token }) {
  const kubeconfig = clusterInfoKubeconfig(SERVER, fake.caPem);
  const data: Record<string, string> = { kubeconfig };
  if (opts.signedWith) data[`jws-kubeconfig-${opts.signedWith.id}`] = signDetached(kubeconfig, opts.signedWith);
  return { status: 200, body: { metadata: { name: 'cluster-info' }, data } };
}

function serve(info: Answer[] = [clusterInfo()]) {
  fake.state.answers[INFO] = info;
  fake.state.answers[KUBEADM] = [
    { status: 200, body: { data: { ClusterConfiguration: UPSTREAM_CLUSTER_CONFIGURATION } } },
  ];
  fake.state.answers[KUBELET] = [{ status: 200, body: { data: { kubelet: UPSTREAM_KUBELET_CONFIG } } }];
}

/** Tunnels as a joining host opens them, recorded; all lead to the scripted server. */
function dialer() {
  const targets: string[] = [];
  return {
    targets,
    dialTo: async (host: string, port: number) => {
      targets.push(`${host}:${port}`);
      return fake.dial();
    },
  };
}

const pin = () => caCertHash(fake.caPem);
const discover = (
  d: ReturnType<typeof dialer>,
  over: { pins?: string[]; endpoint?: string; token?: typeof token } = {},
  signatureWaitMs = 5000,
) =>
  discoverForeignCluster(
    d.dialTo,
    { token: over.token ?? token, pins: over.pins ?? [pin()], endpoint: over.endpoint ?? '127.0.0.1:6443' },
    { signatureWaitMs, everyMs: 50, retryMs: 0 },
  );

describe('discovery of a cluster kprov did not create', () => {
  it('verifies cluster-info, then reads the cluster configuration with the token over verified TLS', async () => {
    serve();
    const d = dialer();
    const found = await discover(d, { pins: [`sha256:${'0'.repeat(64)}`, pin()] });
    expect(found).toEqual({
      server: SERVER,
      caPem: fake.caPem,
      caCertHash: pin(),
      clusterConfiguration: expect.objectContaining({
        kubernetesVersion: 'v1.37.2',
        imageRepository: 'registry.k8s.io',
      }),
      kubeletConfig: UPSTREAM_KUBELET_CONFIG,
    });
    expect(fake.state.calls).toEqual([INFO, INFO, KUBEADM, KUBELET]);
    // The token is sent only once the server has proved to hold the pinned CA, and then to cluster-info's server.
    expect(fake.state.auth).toEqual([undefined, undefined, BEARER, BEARER]);
    expect(d.targets).toEqual(['127.0.0.1:6443', '127.0.0.1:6443', '127.0.0.1:16443', '127.0.0.1:16443']);
  });

  it('sends nothing with the token to a server whose CA is not pinned', async () => {
    serve();
    await expect(discover(dialer(), { pins: [`sha256:${'0'.repeat(64)}`] })).rejects.toThrow(
      /cluster CA does not match the pinned hash sha256:0{64}/,
    );
    expect(fake.state.calls).toEqual([INFO]);
    expect(fake.state.auth).toEqual([undefined]);
  });

  it('refuses cluster-info signed with another secret (a wrong token, or a server that does not know it)', async () => {
    serve([clusterInfo({ signedWith: { id: 'abcdef', secret: 'ffffffffffffffff' } })]);
    await expect(discover(dialer())).rejects.toThrow(/signature does not verify with token abcdef/);
    expect(fake.state.auth).toEqual([undefined]);
  });

  it('waits for the bootstrap signer, then gives up on a token it never signs for', async () => {
    serve([clusterInfo({}), clusterInfo({}), clusterInfo()]);
    await expect(discover(dialer())).resolves.toHaveProperty('server', SERVER);
    expect(fake.state.calls.filter((c) => c === INFO)).toHaveLength(4);

    serve([clusterInfo({})]);
    await expect(discover(dialer(), {}, 200)).rejects.toThrow(
      new RegExp(
        'cluster-info carries no signature for token abcdef after 0s: the token does not exist, has expired, or ' +
          'cannot sign; make one on a control-plane host: kubeadm token create --print-join-command',
      ),
    );
  });

  it('says why when anonymous discovery is refused or there is no cluster-info', async () => {
    serve([{ status: 403, body: { message: 'forbidden' } }]);
    await expect(discover(dialer())).rejects.toThrow(
      /refuses anonymous reads of kube-public\/cluster-info \(HTTP 403\).*kubeadm:bootstrap-signer-clusterinfo/,
    );
    serve([{ status: 404, body: {} }]);
    await expect(discover(dialer())).rejects.toThrow(/127.0.0.1:6443 has no kube-public\/cluster-info/);
  });

  it('refuses an endpoint the API server certificate does not name', async () => {
    serve();
    await expect(discover(dialer(), { endpoint: 'localhost:6443' })).rejects.toThrow(
      /over TLS verified with the cluster CA.*use an endpoint among its SANs/,
    );
    // The verified handshake fails before any request: only the anonymous read reached the server.
    expect(fake.state.auth).toEqual([undefined]);
  });

  it("names kubeadm's RBAC when the token may not read the configuration, and an expired token", async () => {
    serve();
    fake.state.answers[KUBELET] = [{ status: 403, body: { message: 'forbidden' } }];
    await expect(discover(dialer())).rejects.toThrow(
      /token abcdef may not read kube-system\/kubelet-config \(HTTP 403\).*Role and RoleBinding kubeadm:kubelet-config/,
    );
    serve();
    fake.state.answers[KUBEADM] = [{ status: 401, body: { message: 'Unauthorized' } }];
    await expect(discover(dialer())).rejects.toThrow(/does not accept token abcdef: it expired or was deleted/);
  });

  it('never puts the token secret in an error', async () => {
    serve();
    fake.state.answers[KUBEADM] = [{ status: 500, body: { message: 'boom' } }];
    const err = await discover(dialer()).catch((e: Error) => e);
    expect(String(err)).toMatch(/cannot read kube-system\/kubeadm-config/);
    expect(String(err)).not.toContain(token.secret);
  });
});

describe('a node as the bootstrap token sees it', () => {
  const api = () => bootstrapClient(dialer().dialTo, { server: SERVER, caPem: fake.caPem }, token, { retryMs: 0 });
  const NODE = '/api/v1/nodes/w1';
  const node = (status: string, message = '') => ({
    status: 200,
    body: { metadata: { name: 'w1' }, status: { conditions: [{ type: 'Ready', status, message }] } },
  });

  it('is absent, Ready, not Ready, or unknown without kubeadm:get-nodes', async () => {
    fake.state.answers[NODE] = [{ status: 404, body: {} }];
    expect(await nodeState(api(), 'w1')).toEqual({ state: 'absent' });
    fake.state.answers[NODE] = [node('True')];
    expect(await nodeState(api(), 'w1')).toEqual({ state: 'ready' });
    fake.state.answers[NODE] = [node('False', 'container runtime network not ready')];
    expect(await nodeState(api(), 'w1')).toEqual({
      state: 'not-ready',
      message: 'container runtime network not ready',
    });
    fake.state.answers[NODE] = [{ status: 403, body: { message: 'nodes "w1" is forbidden' } }];
    expect(await nodeState(api(), 'w1')).toMatchObject({ state: 'unknown' });
    expect(fake.state.auth.every((a) => a === BEARER)).toBe(true);
  });
});

describe('endpoints', () => {
  it('split host and port, IPv6 without brackets', () => {
    expect(splitEndpoint('10.0.0.10:6443')).toEqual({ host: '10.0.0.10', port: 6443 });
    expect(splitEndpoint('[fd00::10]:6443')).toEqual({ host: 'fd00::10', port: 6443 });
  });
});
