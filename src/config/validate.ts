/**
 * The one set of value checks for cluster and host settings, whichever source they come from (inventory vars or a
 * --config kubeadm file). Each returns a problem (a sentence naming `label` and the value) or undefined.
 * These values end up in flags files systemd splits on whitespace, in the Corefile, in TOML and in paths,
 * so anything with whitespace or control characters is refused outright.
 */
import { isIP } from 'node:net';
import { cidrsOverlap, parseCidr, isIPv4 } from '../net/ipv4.js';
import { cidrs6Overlap, ipv6NodeAddressProblem, parseCidr6, parseIPv6 } from '../net/ipv6.js';
import { DEFAULT_KUBERNETES_VERSION, SUPPORTED_MINORS, supportedList } from '../kubeadm/versions.js';

export type Problem = string | undefined;

const q = (v: string) => JSON.stringify(v);
// eslint-disable-next-line no-control-regex
const CONTROL_OR_SPACE = /[\s\u0000-\u001f\u007f-\u009f]/;
const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function kubernetesVersionProblem(v: string, label: string): Problem {
  if (!/^v?\d+\.\d+\.\d+$/.test(v))
    return `${label} ${q(v)} is not a release version like ${DEFAULT_KUBERNETES_VERSION}`;
  const [major, minor] = v.replace(/^v/, '').split('.').map(Number);
  if (major !== 1 || !SUPPORTED_MINORS.includes(minor)) {
    return (
      `${label} v${v.replace(/^v/, '')} is not supported: kprov supports ${supportedList()} ` +
      `(the minors upstream maintains; default ${DEFAULT_KUBERNETES_VERSION})`
    );
  }
  return undefined;
}

/** "1.37.2" -> "v1.37.2" (call only on a value kubernetesVersionProblem accepted). */
export const normalizeKubernetesVersion = (v: string) => (v.startsWith('v') ? v : `v${v}`);

export function podCidrProblem(v: string, label: string): Problem {
  if (v.includes(',') && !CONTROL_OR_SPACE.test(v)) return dualStackProblem(v, label, ipv4PodProblem, ipv6PodProblem);
  return ipv4PodProblem(v, label);
}

function ipv4PodProblem(v: string, label: string): Problem {
  const c = CONTROL_OR_SPACE.test(v) ? `${q(v)} is not a CIDR (expected a.b.c.d/n)` : parseCidr(v);
  if (typeof c === 'string') return `${label}: ${singleIPv6Hint(v) ?? c}`;
  if (c.prefix > 24) return `${label} ${v} is too small: each node gets a /24 from it`;
  return undefined;
}

export function serviceCidrProblem(v: string, label: string): Problem {
  if (v.includes(',') && !CONTROL_OR_SPACE.test(v)) {
    return dualStackProblem(v, label, ipv4ServiceProblem, ipv6ServiceProblem);
  }
  return ipv4ServiceProblem(v, label);
}

function ipv4ServiceProblem(v: string, label: string): Problem {
  const c = CONTROL_OR_SPACE.test(v) ? `${q(v)} is not a CIDR (expected a.b.c.d/n)` : parseCidr(v);
  if (typeof c === 'string') return `${label}: ${singleIPv6Hint(v) ?? c}`;
  if (c.prefix < 12) return `${label} ${v} is too large: the API server allows at most a /12`;
  return undefined;
}

/** A lone IPv6 CIDR: kprov's nodes advertise IPv4 addresses, so IPv6 comes only as the second family. */
function singleIPv6Hint(v: string): string | undefined {
  if (typeof parseCidr6(v) === 'string') return undefined;
  return `${q(v)} is IPv6: kprov builds IPv4 or dual-stack clusters, so give "<IPv4 CIDR>,${v}" for dual-stack`;
}

/**
 * The IPv6 half of a dual-stack pod network: the controller-manager gives each node a /64 from it (its default
 * --node-cidr-mask-size-ipv6, which kubeadm leaves alone), and kubeadm allows the node mask at most 16 bits longer
 * than the network's (PodSubnetNodeMaskMaxDiff): a /48 to a /64.
 */
function ipv6PodProblem(v: string, label: string): Problem {
  const c = parseCidr6(v);
  if (typeof c === 'string') return `${label}: ${c}`;
  if (c.prefix > 64) return `${label} ${v} is too small: each node gets a /64 from it`;
  if (c.prefix < 48) {
    return `${label} ${v} is too large: the nodes' /64 may be at most 16 bits longer than it (kubeadm), use /48 to /64`;
  }
  return undefined;
}

/**
 * The IPv6 half of a dual-stack service network, as kubeadm and the API server check it: at most 20 host bits (a
 * /108 or longer), and at least 10 addresses.
 */
function ipv6ServiceProblem(v: string, label: string): Problem {
  const c = parseCidr6(v);
  if (typeof c === 'string') return `${label}: ${c}`;
  if (c.prefix < 108) return `${label} ${v} is too large: for IPv6 the API server allows at most a /108`;
  if (c.prefix > 124) return `${label} ${v} is too small: a service network needs at least 10 addresses`;
  return undefined;
}

/**
 * "IPv4,IPv6": both valid, one of each family, at most two (kubeadm's ValidateIPNetFromString). kubeadm takes either
 * order, the first being the primary family; kprov's nodes advertise IPv4 addresses, and the API server refuses a
 * first service CIDR of another family than its advertise address, so kprov wants IPv4 first.
 */
function dualStackProblem(
  v: string,
  label: string,
  v4: (v: string, label: string) => Problem,
  v6: (v: string, label: string) => Problem,
): Problem {
  const parts = v.split(',');
  const family = (cidr: string) => (cidr.includes(':') ? 6 : 4);
  if (parts.length !== 2 || family(parts[0]) === family(parts[1])) {
    return (
      `${label} ${q(v)}: expected one IPv4 CIDR, or an IPv4 and an IPv6 CIDR for dual-stack ` +
      '(like "10.244.0.0/16,fd00:10:244::/56")'
    );
  }
  if (family(parts[0]) === 6) {
    return (
      `${label} ${q(v)}: list the IPv4 CIDR first: kprov's nodes advertise IPv4 addresses, so IPv4 is the ` +
      "cluster's primary family (the API server wants its first service CIDR in its advertise address's family)"
    );
  }
  return v4(parts[0], label) ?? v6(parts[1], label);
}

/** "a,b" is a dual-stack network (the validators above accept no other list). */
export const isDualStack = (cidrs: string) => cidrs.includes(',');

/** Both networks dual-stack, or neither: pods without IPv6 addresses make IPv6 Services pointless, and vice versa. */
export function dualStackMismatchProblem(pod: string, svc: string, podLabel: string, svcLabel: string): Problem {
  if (isDualStack(pod) === isDualStack(svc)) return undefined;
  return (
    `${podLabel} ${pod} and ${svcLabel} ${svc} must both be dual-stack (IPv4,IPv6) or both IPv4: ` +
    'a dual-stack cluster has IPv4 and IPv6 pod addresses and Services'
  );
}

/** A node's own IPv6 address (node_ip6): global or unique-local, one address. */
export function nodeIPv6Problem(v: string, label: string): Problem {
  const ip = parseIPv6(v);
  if (ip === null) return `${label} ${q(v)} is not an IPv6 address`;
  const why = ipv6NodeAddressProblem(ip);
  return why ? `${label} ${v} ${why}` : undefined;
}

/** host or host:port, host a DNS name or IPv4 address. */
export function endpointProblem(v: string, label: string): Problem {
  const m = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(v);
  const badPort = m?.[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535);
  if (!m || badPort) return `${label} ${q(v)} must be host or host:port`;
  return undefined;
}

export function imageRepositoryProblem(v: string, label: string): Problem {
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(v)) {
    return `${label} ${q(v)} is not a registry path like registry.k8s.io or myregistry:5000/k8s`;
  }
  return undefined;
}

export function clusterNameProblem(v: string, label: string): Problem {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v)) {
    return `${label} ${q(v)} must be a DNS label (lowercase letters, digits, '-')`;
  }
  return undefined;
}

export function dnsDomainProblem(v: string, label: string): Problem {
  if (v.length > 253 || !DNS_NAME.test(v)) return `${label} ${q(v)} is not a DNS domain`;
  return undefined;
}

export function nodeNameProblem(v: string, label: string): Problem {
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(v)) {
    return `${label} ${q(v)} is not a valid Kubernetes node name (lowercase letters, digits, '-' and '.')`;
  }
  return undefined;
}

export function ipv4Problem(v: string, label: string): Problem {
  return isIPv4(v) ? undefined : `${label} ${q(v)} is not an IPv4 address`;
}

/** A certificate SAN: a DNS name (optionally a leading wildcard) or an IP address. */
export function certSanProblem(v: string, label: string): Problem {
  if (isIP(v) !== 0) return undefined;
  if (v.length <= 253 && DNS_NAME.test(v.toLowerCase().replace(/^\*\./, ''))) return undefined;
  return `${label} ${q(v)} is not a DNS name or IP address`;
}

/** unix:///path or /path (kubeadm accepts both); the path may not contain spaces or shell metacharacters. */
export function criSocketProblem(v: string, label: string): Problem {
  if (!/^(unix:\/\/)?\/[A-Za-z0-9._/-]+$/.test(v)) {
    return `${label} ${q(v)} must be a unix socket like unix:///run/containerd/containerd.sock`;
  }
  return undefined;
}

export const normalizeCriSocket = (v: string) => (v.startsWith('unix://') ? v : `unix://${v}`);

/** A component flag name (without --) and its value, as they go into a static pod's command. */
export function extraArgProblem(name: string, value: string, label: string): Problem {
  // A letter first: no flag starts with a digit, and an all-digit key would not keep its place in a JS object.
  if (!/^[a-z][a-z0-9-]*$/i.test(name)) {
    return `${label}: flag name ${q(name)} must be a letter, then letters, digits and '-' (without the leading --)`;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    return `${label}: the value of ${name} contains a control character (a newline?)`;
  }
  return undefined;
}

export function bootstrapTokenProblem(v: string, label: string): Problem {
  if (!/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(v)) {
    return `${label} is not a bootstrap token: expected [a-z0-9]{6}.[a-z0-9]{16}`;
  }
  return undefined;
}

/**
 * A discovery-token-ca-cert-hash as kubeadm takes it (util/pubkeypin): "sha256:" and the 64 hex digits of the CA's
 * public key hash, either letter case (kubeadm lowercases it).
 */
export function caCertHashProblem(v: string, label: string): Problem {
  if (!/^sha256:[0-9a-f]{64}$/i.test(v)) {
    return (
      `${label} ${q(v)} is not a CA certificate hash: expected sha256:<64 hex digits> ` +
      '(kubeadm token create --print-join-command prints it)'
    );
  }
  return undefined;
}

/** A hash kprov compares: "sha256:" and lowercase hex (call only on a value caCertHashProblem accepted). */
export const normalizeCaCertHash = (v: string) => `sha256:${v.slice('sha256:'.length).toLowerCase()}`;

/** The API server a joining node discovers the cluster through, as kubeadm join takes it: host:port, port required. */
export function joinEndpointProblem(v: string, label: string): Problem {
  const hint = /^https?:\/\//i.test(v) ? ' (without https://)' : '';
  if (!/:\d{1,5}$/.test(v) || registryHostProblem(v, label)) {
    return `${label} ${q(v)} must be host:port of the cluster's API server, e.g. 10.0.0.10:6443${hint}`;
  }
  return undefined;
}

/** Registry host[:port]: a DNS name, an IPv4 address or a [bracketed] IPv6 address, port 1-65535. */
export function registryHostProblem(v: string, label: string): Problem {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(v);
  const bad = `${label} ${q(v)} is not a registry host or host:port`;
  if (!m) return bad;
  const [, host, port] = m;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return bad;
  if (host.startsWith('[')) return isIP(host.slice(1, -1)) === 6 ? undefined : bad;
  if (isIPv4(host)) return undefined;
  if (/^[\d.]+$/.test(host)) return bad;
  if (host.length > 253 || !DNS_NAME.test(host.toLowerCase())) return bad;
  return undefined;
}

/** Pod and service networks may not overlap, family by family (call only with valid networks). */
export function cidrsOverlapProblem(pod: string, svc: string, podLabel: string, svcLabel: string): Problem {
  const [pod4, pod6] = pod.split(',');
  const [svc4, svc6] = svc.split(',');
  const a = parseCidr(pod4);
  const b = parseCidr(svc4);
  if (typeof a !== 'string' && typeof b !== 'string' && cidrsOverlap(a, b)) {
    return `${podLabel} ${pod4} overlaps ${svcLabel} ${svc4}`;
  }
  const a6 = pod6 === undefined ? undefined : parseCidr6(pod6);
  const b6 = svc6 === undefined ? undefined : parseCidr6(svc6);
  if (typeof a6 === 'object' && typeof b6 === 'object' && cidrs6Overlap(a6, b6)) {
    return `${podLabel} ${pod6} overlaps ${svcLabel} ${svc6}`;
  }
  return undefined;
}

/**
 * A registry mirror URL as containerd should see it: parsed by the URL standard and written back (`new URL(x).href`),
 * so what is checked is what is written, without a trailing slash. Undefined when it is not an http(s) URL of a
 * valid registry host with nothing but a path.
 */
export function normalizeRegistryUrl(raw: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f\\]/.test(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (!['http:', 'https:'].includes(url.protocol) || !url.host) return undefined;
  if (url.username || url.password || url.search || url.hash) return undefined;
  if (registryHostProblem(url.host, 'host')) return undefined;
  return url.href.replace(/\/+$/, '');
}
