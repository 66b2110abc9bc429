import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { statePkiDir } from '../config/state-dir.js';
import { HostError } from '../errors/index.js';
import { parseKubeconfig } from '../kubeadm/kubeconfig.js';
import type { Host } from '../host/host.js';
import { API_PORT, ETCD_CLIENT_PORT } from '../kubeadm/constants.js';
import type { RunLog } from '../log/logger.js';
import { KubeClient, type Credentials } from './client.js';
import { EtcdClient } from './etcd.js';

/** Client certificates kprov uses on a running cluster: the API's admin and etcd's API-server client. */
type ClientCert = Required<Pick<Credentials, 'caPem' | 'certPem' | 'keyPem'>>;

export interface AccessCredentials {
  /** Absent when no admin kubeconfig was saved (reset then cleans hosts without draining them). */
  api?: ClientCert;
  /** Absent when the etcd client certificate is not at hand (reset then says what to do by hand). */
  etcd?: ClientCert;
}

/**
 * How kprov reaches a running cluster: its API server and etcd, through the SSH connection of one master
 * (bastions and firewalls stay as they are). The run picks the master: the first one, or the next master that
 * runs the control plane while the first is down. Phases that need the cluster are handed this object and ask
 * it for clients; when no master is usable they get a HostError that says so, never a null.
 */
export class ClusterAccess {
  private master?: { host: Host; address: string };
  private log?: RunLog;

  constructor(private readonly creds: AccessCredentials) {}

  /** Carry API and etcd traffic through this master, to its own API server and etcd at address. */
  useMaster(host: Host, address: string, log: RunLog): void {
    this.master = { host, address };
    this.log = log;
  }

  /** Forget a master that turned out not to answer. */
  drop(host: Host): void {
    if (this.master?.host === host) this.master = undefined;
  }

  /** The master carrying traffic, while it has not failed. */
  get via(): Host | undefined {
    return this.master && !this.master.host.failed ? this.master.host : undefined;
  }

  /** The master carrying traffic, or a HostError for `forHost` naming the step that needed it. */
  requireVia(forHost: Host, step: string): { host: Host; address: string } {
    if (!this.master || this.master.host.failed) {
      throw new HostError(forHost.name, 'no control-plane host is available to reach the cluster through', { step });
    }
    return this.master;
  }

  /** The cluster's API as its admin. */
  api(forHost: Host, step: string): KubeClient {
    const { host, address } = this.requireVia(forHost, step);
    return this.client(host, address, this.apiCreds(forHost, step));
  }

  /** The API server on one master (say one that just joined), through that master's own connection. */
  apiServerOn(host: Host, address: string): KubeClient {
    return this.client(host, address, this.apiCreds(host, 'wait for API server'));
  }

  /** Whether admin credentials are at hand (from the plan, or saved by an earlier init). */
  get canAuthenticate(): boolean {
    return !!this.creds.api;
  }

  /** Whether the API can be reached at all (a master and the admin credentials). */
  get hasApi(): boolean {
    return !!this.via && !!this.creds.api;
  }

  private apiCreds(forHost: Host, step: string): ClientCert {
    if (!this.creds.api) throw new HostError(forHost.name, 'no admin kubeconfig is available', { step });
    return this.creds.api;
  }

  /** Anonymous or CA-pinned access for discovery, exactly as a joining node would see the API. */
  discoveryClient(forHost: Host, creds: { insecure: true } | { caPem: string }): KubeClient {
    const { host, address } = this.requireVia(forHost, 'discovery');
    return this.client(host, address, creds);
  }

  /** etcd's API, as the API server's etcd client, at the master carrying traffic. */
  etcd(forHost: Host, step: string): EtcdClient {
    const { host, address } = this.requireVia(forHost, step);
    if (!this.creds.etcd) throw new HostError(forHost.name, 'no etcd client certificate is available', { step });
    return new EtcdClient((to) => host.conn.forward(to, ETCD_CLIENT_PORT), this.creds.etcd, address, {
      onRetry: (what) => this.log?.write(host.name, `etcd busy, retrying: ${what}`),
    });
  }

  /** Whether etcd can be reached at all (a master and the certificate). */
  get hasEtcd(): boolean {
    return !!this.via && !!this.creds.etcd;
  }

  private client(host: Host, address: string, creds: Credentials | { insecure: true }): KubeClient {
    return new KubeClient(
      () => host.conn.forward(address, API_PORT),
      creds,
      address,
      undefined,
      undefined,
      (what) => this.log?.write(host.name, `API busy, retrying: ${what}`),
    );
  }
}

/**
 * Credentials from the state kprov saved on the operator's machine for a cluster: admin.conf and, for etcd,
 * the API server's etcd client certificate of the master that will carry the traffic.
 */
export function savedCredentials(stateDir: string, viaNodeName: string): AccessCredentials {
  const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);
  const creds: AccessCredentials = {};
  const admin = read(join(stateDir, 'admin.conf'));
  if (admin) {
    const k = parseKubeconfig(admin);
    if (k.clientCertPem && k.clientKeyPem)
      creds.api = { caPem: k.caPem, certPem: k.clientCertPem, keyPem: k.clientKeyPem };
  }
  const pki = (path: string) => read(join(statePkiDir(stateDir), path));
  const [caPem, certPem, keyPem] = [
    pki('etcd/ca.crt'),
    pki(`nodes/${viaNodeName}/apiserver-etcd-client.crt`),
    pki(`nodes/${viaNodeName}/apiserver-etcd-client.key`),
  ];
  if (caPem && certPem && keyPem) creds.etcd = { caPem, certPem, keyPem };
  return creds;
}
