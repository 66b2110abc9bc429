import { parse, stringify } from 'yaml';
import { generateKey, keyPairFromPem } from '../pki/keys.js';
import { inspectCertificate, keyMatchesCert, verifiesAgainst } from '../pki/inspect.js';
import type { PkiStore } from '../pki/store.js';
import { issueClientCert, type Pki, type PkiEvent } from './pki.js';
import { controlPlaneUrl, localApiUrl, type ClusterConfig, type NodeConfig } from './config.js';
import {
  ADMIN_CONF,
  CONTROLLER_MANAGER_CONF,
  GROUP_CLUSTER_ADMINS,
  GROUP_MASTERS,
  GROUP_NODES,
  KUBELET_CONF,
  KUBERNETES_DIR,
  RENEW_BEFORE_MS,
  SCHEDULER_CONF,
  SUPER_ADMIN_CONF,
} from './constants.js';

export interface KubeconfigInput {
  clusterName: string;
  server: string;
  caPem: string;
  userName: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * A kubeconfig as kubeadm writes it: one cluster, one user, context "<user>@<cluster>". No `preferences: {}`: since
 * client-go v0.34 (Kubernetes v1.34) clientcmd omits the empty preferences (`json:"preferences,omitzero"`), so kubeadm
 * of every minor kprov supports writes none.
 */
export function buildKubeconfig(k: KubeconfigInput): string {
  const user: Record<string, string> = {};
  if (k.clientCertPem) user['client-certificate-data'] = b64(k.clientCertPem);
  if (k.clientKeyPem) user['client-key-data'] = b64(k.clientKeyPem);
  if (k.token) user.token = k.token;
  const context = `${k.userName}@${k.clusterName}`;
  return stringify({
    apiVersion: 'v1',
    clusters: [{ cluster: { 'certificate-authority-data': b64(k.caPem), server: k.server }, name: k.clusterName }],
    contexts: [{ context: { cluster: k.clusterName, user: k.userName }, name: context }],
    'current-context': context,
    kind: 'Config',
    users: [{ name: k.userName, user }],
  });
}

interface ParsedKubeconfig {
  server: string;
  caPem: string;
  clientCertPem?: string;
  clientKeyPem?: string;
}

export function parseKubeconfig(text: string): ParsedKubeconfig {
  const doc = parse(text);
  const cluster = doc.clusters?.[0]?.cluster ?? {};
  const user = doc.users?.[0]?.user ?? {};
  const unb64 = (s?: string) => (s ? Buffer.from(s, 'base64').toString() : undefined);
  return {
    server: cluster.server,
    caPem: unb64(cluster['certificate-authority-data']) ?? '',
    clientCertPem: unb64(user['client-certificate-data']),
    clientKeyPem: unb64(user['client-key-data']),
  };
}

export interface KubeconfigSpec {
  file: string;
  commonName: string;
  organizations: string[];
  server: string;
}

/**
 * The kubeconfig files a control-plane node gets. The first (init) node also gets super-admin.conf and
 * kubelet.conf.
 */
export function kubeconfigSpecs(cfg: ClusterConfig, node: NodeConfig, first: NodeConfig): KubeconfigSpec[] {
  const endpoint = controlPlaneUrl(cfg, first);
  const specs: KubeconfigSpec[] = [
    { file: ADMIN_CONF, commonName: 'kubernetes-admin', organizations: [GROUP_CLUSTER_ADMINS], server: endpoint },
    {
      file: CONTROLLER_MANAGER_CONF,
      commonName: 'system:kube-controller-manager',
      organizations: [],
      server: localApiUrl(node),
    },
    { file: SCHEDULER_CONF, commonName: 'system:kube-scheduler', organizations: [], server: localApiUrl(node) },
  ];
  if (node.name === first.name) {
    specs.push({
      file: SUPER_ADMIN_CONF,
      commonName: 'kubernetes-super-admin',
      organizations: [GROUP_MASTERS],
      server: endpoint,
    });
    specs.push({
      file: KUBELET_CONF,
      commonName: `system:node:${node.name}`,
      organizations: [GROUP_NODES],
      server: endpoint,
    });
  }
  return specs;
}

/**
 * Make sure each control-plane node's kubeconfigs exist in the store and still fit (server, CA, identity);
 * reuse them, renew near expiry, report mismatches.
 */
export async function ensureKubeconfigs(
  store: PkiStore,
  cfg: ClusterConfig,
  pki: Pki,
  controlPlane: NodeConfig[],
  now = new Date(),
  /** Kubeconfigs renewed with their key whatever their expiry (`certs renew`), by path on the master. */
  renewNow: (hostPath: string) => boolean = () => false,
) {
  const events: PkiEvent[] = [];
  const problems: string[] = [];
  const files: Record<string, Record<string, string>> = {};
  const ca = pki.cas.ca;
  const jobs: {
    node: NodeConfig;
    spec: KubeconfigSpec;
    path: string;
    keyPem?: string;
    action: 'created' | 'renewed';
  }[] = [];
  for (const node of controlPlane) {
    files[node.name] = {};
    for (const spec of kubeconfigSpecs(cfg, node, controlPlane[0])) {
      const path = `nodes/${node.name}/kubeconfig/${spec.file}`;
      const existing = store.read(path);
      if (!existing) {
        jobs.push({ node, spec, path, action: 'created' });
        continue;
      }
      const k = parseKubeconfig(existing);
      const diffs: string[] = [];
      if (k.server !== spec.server) diffs.push(`server is ${k.server}, want ${spec.server}`);
      if (k.caPem.trim() !== ca.certPem.trim()) diffs.push('embeds another CA');
      if (!k.clientCertPem || !k.clientKeyPem || !keyMatchesCert(k.clientCertPem, k.clientKeyPem))
        diffs.push('client certificate and key missing or mismatched');
      else {
        const info = inspectCertificate(k.clientCertPem);
        if (
          info.commonName !== spec.commonName ||
          JSON.stringify(info.organizations) !== JSON.stringify(spec.organizations)
        )
          diffs.push(
            `user is CN=${info.commonName} O=[${info.organizations}], ` +
              `want CN=${spec.commonName} O=[${spec.organizations}]`,
          );
        if (!verifiesAgainst(k.clientCertPem, ca.certPem))
          diffs.push('client certificate not signed by the cluster CA');
        const expiring = info.notAfter.getTime() - now.getTime() < RENEW_BEFORE_MS;
        if (diffs.length === 0 && (expiring || renewNow(`${KUBERNETES_DIR}/${spec.file}`))) {
          jobs.push({ node, spec, path, keyPem: k.clientKeyPem, action: 'renewed' });
          continue;
        }
      }
      if (diffs.length > 0)
        problems.push(`${path}: ${diffs.join('; ')}. Remove it from the PKI directory to have it regenerated.`);
      else events.push({ path, action: 'reused' });
      files[node.name][spec.file] = existing;
    }
  }
  const keys = await Promise.all(
    jobs.map((j) => (j.keyPem ? keyPairFromPem(j.keyPem) : generateKey(cfg.encryptionAlgorithm))),
  );
  jobs.forEach((j, i) => {
    const certPem = issueClientCert(ca, keys[i], j.spec.commonName, j.spec.organizations, now);
    const text = buildKubeconfig({
      clusterName: cfg.clusterName,
      server: j.spec.server,
      caPem: ca.certPem,
      userName: j.spec.commonName,
      clientCertPem: certPem,
      clientKeyPem: keys[i].privateKeyPem,
    });
    store.write(j.path, text, 0o600);
    files[j.node.name][j.spec.file] = text;
    events.push({ path: j.path, action: j.action });
  });
  return { files, events, problems };
}

/** bootstrap-kubelet.conf for a joining node: the CA and a bootstrap token, nothing else. */
export function bootstrapKubeconfig(cfg: ClusterConfig, server: string, caPem: string, token: string): string {
  return buildKubeconfig({ clusterName: cfg.clusterName, server, caPem, userName: 'tls-bootstrap-token-user', token });
}
