import type { EtcdMember } from '../kubeadm/etcd-members.js';
import { KubeClient, type Credentials, type Dialer } from './client.js';

/**
 * etcd's v3 cluster API through its JSON gateway (POST /v3/cluster/...), over the same TLS-over-any-dialer
 * client kprov uses for the API server, so it reaches etcd through the SSH connection to a master.
 */
export class EtcdClient {
  private readonly http: KubeClient;

  /** dial reaches etcd's client port at address (the name its server certificate is checked against). */
  constructor(dial: Dialer, creds: Credentials, address: string) {
    this.http = new KubeClient(dial, creds, address);
  }

  private async call(path: string, body: unknown): Promise<any> {
    const r = await this.http.request('POST', `/v3/cluster/${path}`, body);
    // uint64 IDs must stay exact: should a gateway ever send them as numbers, read them as strings.
    const parsed = r.text ? JSON.parse(r.text.replace(/"ID":\s*(\d+)/g, '"ID":"$1"')) : {};
    if (r.status !== 200) throw new Error(`etcd ${path}: HTTP ${r.status}: ${parsed.message ?? parsed.error ?? r.text.slice(0, 200)}`);
    return parsed;
  }

  async members(): Promise<EtcdMember[]> {
    return (await this.call('member/list', { linearizable: true })).members ?? [];
  }

  /** Add a non-voting learner (kubeadm's way since 1.29): it cannot cost the cluster its quorum while it catches up. */
  async addLearner(peerUrl: string): Promise<{ member: EtcdMember; members: EtcdMember[] }> {
    const r = await this.call('member/add', { peerURLs: [peerUrl], isLearner: true });
    return { member: r.member, members: r.members ?? [] };
  }

  /** Make a learner a voting member; etcd refuses until the learner has caught up with the leader. */
  async promote(id: string): Promise<void> {
    await this.call('member/promote', { ID: id });
  }

  async remove(id: string): Promise<void> {
    await this.call('member/remove', { ID: id });
  }
}
