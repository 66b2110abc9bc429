/** The parts of Kubernetes API objects kprov reads. Everything else in an answer is passed through untouched. */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { kind: string; name: string }[];
  deletionTimestamp?: string;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

/** What an object must carry to be created or applied. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

export interface List<T> {
  items: T[];
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface Node extends KubeObject {
  spec?: { taints?: Taint[]; unschedulable?: boolean };
  status?: { conditions?: Condition[]; nodeInfo?: { kubeletVersion?: string; containerRuntimeVersion?: string } };
}

export interface Pod extends KubeObject {
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** The Ready condition of a node, if it has reported one. */
export const readyCondition = (node: Node | undefined) => node?.status?.conditions?.find((c) => c.type === 'Ready');

/** The `message` of a Kubernetes Status body (or etcd's error body), when there is one. */
export function statusMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { message, error } = body as { message?: unknown; error?: unknown };
  if (typeof message === 'string') return message;
  return typeof error === 'string' ? error : undefined;
}
