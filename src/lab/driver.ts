/** Where a lab's nodes run: containers on the local Docker engine, LXD system containers, or QEMU VMs. */
export const LAB_DRIVERS = ['docker', 'lxd', 'vm'] as const;
export type LabDriverName = (typeof LAB_DRIVERS)[number];

export type LabRole = 'master' | 'worker' | 'lb';

/** One node the lab wants: its name in the inventory and its role. */
export interface NodeSpec {
  name: string;
  role: LabRole;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What createNetwork made: the name the lab records, and whatever createNode needs from it. */
export interface LabNetwork {
  name: string;
  /** The IPv6 subnet of a dual-stack network. */
  ipv6Subnet?: string;
  /** IPv4 subnet of the network, when the driver chose it (LXD); Docker picks its own. */
  ipv4Subnet?: string;
}

/** What a lab asks of its network and node profile. */
export interface NetworkOptions {
  /** A dual-stack network's IPv6 subnet (docker). */
  ipv6Subnet?: string;
  /** Nodes in user namespaces (lxd). */
  unprivileged?: boolean;
}

export interface CreateNodeInput {
  lab: string;
  /** The lab's state directory (files the node may mount). */
  dir: string;
  network: LabNetwork;
  image: string;
  node: NodeSpec;
  /** Position of the node in the lab's plan (for drivers that assign addresses). */
  index: number;
}

/** A node of any lab this driver knows, as found on the machine. */
export interface DriverNode {
  lab: string;
  /** Container or instance name. */
  id: string;
  running: boolean;
}

/**
 * What a lab needs from the thing that runs its nodes. Everything a driver does is I/O; the names, address plans
 * and configuration documents it uses are pure functions beside it, with unit tests.
 */
export interface LabDriver {
  readonly name: LabDriverName;
  /** How long a new node may take until sshd runs. */
  readonly bootTimeoutMs: number;
  /** Make sure the engine runs (start it when the driver can), or fail with a UserError saying what is missing. */
  ensureReady(progress: (m: string) => void): Promise<void>;
  /** Whether this machine's /proc/sys limits are the ones the nodes share (a local engine). */
  sharesHostLimits(): boolean;
  /** Stop with a UserError when the machine lacks the memory or disk these nodes need (drivers that reserve it). */
  checkResources?(nodes: NodeSpec[]): Promise<void>;
  /** Whether nodes are containers sharing this machine's kernel (they need kind's kubelet settings); VMs are not. */
  readonly containerNodes: boolean;
  /** Build (once, then cached) and return the node image. */
  ensureImage(progress: (m: string) => void): Promise<string>;
  createNetwork(lab: string, opts: NetworkOptions): Promise<LabNetwork>;
  /** Create and start one node, returning its container or instance name; sshd may still be starting. */
  createNode(input: CreateNodeInput): Promise<string>;
  /** The node's addresses on the lab network. */
  address(id: string, network: LabNetwork): Promise<{ ip: string; ip6?: string }>;
  /** Run a shell script on the node as root (stdin from input). */
  exec(id: string, script: string, input?: string): Promise<ExecResult>;
  /** The node's console or engine log, for error messages. */
  logs(id: string): Promise<string>;
  /** A command an operator can run to see the node's log. */
  logsHint(id: string): string;
  stop(id: string): Promise<void>;
  start(id: string): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  /** Remove every node, volume, network and host rule of the lab; nothing of it may be left. */
  destroy(lab: string): Promise<void>;
  /** Nodes of one lab, or of every lab when lab is undefined. */
  list(lab?: string): Promise<DriverNode[]>;
}

/** The useful part of a failed command (zx ProcessOutput or Error): its stderr's last lines. */
export function commandMessage(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr?.trim() || e.message || String(err)).split('\n').slice(-3).join(' ');
}
