import { readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { UserError } from '../errors/index.js';

/**
 * inotify limits are per user and shared by the whole machine: every lab container's systemd, containerd and
 * kubelet runs as the engine host's root. An idle lab node holds ~8 inotify instances, one running a kubelet
 * and its pods ~15; the default fs.inotify.max_user_instances of 128 runs out at about eight kubelet nodes, and
 * the kubelet then fails with "too many open files" (kind documents the same trap and suggests 512 / 524288).
 */
export const INOTIFY_PER_NODE: InotifyCounts = { instances: 20, watches: 2048 };
/** The engine host's own users of inotify (systemd, dbus, the container runtime) and some slack. */
export const INOTIFY_HOST_MARGIN: InotifyCounts = { instances: 16, watches: 2048 };
/** What kind suggests; never lowered, only raised to when too low. */
export const INOTIFY_SUGGESTED: InotifyCounts = { instances: 512, watches: 524_288 };

export interface InotifyCounts {
  instances: number;
  watches: number;
}

export interface InotifyInput {
  /** fs.inotify.max_user_instances and max_user_watches. */
  limits: InotifyCounts;
  /** Containers the new lab will start. */
  newNodes: number;
  /** Running containers of other kprov labs. */
  otherLabNodes: number;
  /** Instances and watches root holds now, when they could be counted. */
  inUse?: InotifyCounts;
  /** The command is run as root (no sudo in the suggested command). */
  root: boolean;
}

export interface InotifyDecision {
  ok: boolean;
  need: InotifyCounts;
  /** New values for the limits that are too low (sysctl names to values). */
  raise: Record<string, number>;
  /** The one command that raises them. */
  command?: string;
  /** Why the lab would not fit, for the operator. */
  reason?: string;
}

const SYSCTL = { instances: 'fs.inotify.max_user_instances', watches: 'fs.inotify.max_user_watches' } as const;

/**
 * Whether the new lab fits in the machine's inotify limits: every lab node (this lab's and the other running labs')
 * at a kubelet node's need, plus the host's margin; or, when current use was counted, that plus the new nodes
 * (whichever is more). When it does not fit, the limits to raise, to kind's values or the need if higher.
 */
export function inotifyDecision(input: InotifyInput): InotifyDecision {
  const need = {} as InotifyCounts;
  const raise: Record<string, number> = {};
  const short: string[] = [];
  for (const k of ['instances', 'watches'] as const) {
    const allLabs = (input.newNodes + input.otherLabNodes) * INOTIFY_PER_NODE[k] + INOTIFY_HOST_MARGIN[k];
    const fromUse = input.inUse ? input.inUse[k] + input.newNodes * INOTIFY_PER_NODE[k] + INOTIFY_HOST_MARGIN[k] : 0;
    need[k] = Math.max(allLabs, fromUse);
    if (input.limits[k] < need[k]) {
      raise[SYSCTL[k]] = Math.max(INOTIFY_SUGGESTED[k], need[k]);
      short.push(`${SYSCTL[k]} is ${input.limits[k]}, about ${need[k]} needed`);
    }
  }
  if (short.length === 0) return { ok: true, need, raise };
  const settings = Object.entries(raise)
    .map(([n, v]) => `${n}=${v}`)
    .join(' ');
  const command = `${input.root ? '' : 'sudo '}sysctl -w ${settings}`;
  const used = input.inUse;
  const using = used ? `, ${used.instances} instances and ${used.watches} watches in use now` : '';
  const per = `~${INOTIFY_PER_NODE.instances} instances and ~${INOTIFY_PER_NODE.watches} watches`;
  const reason =
    `${short.join('; ')} (${input.newNodes} new lab nodes and ${input.otherLabNodes} of other running ` +
    `labs at ${per} each with a kubelet${using})`;
  return { ok: false, need, raise, command, reason };
}

const PROC_SYS = (name: string) => `/proc/sys/${name.replace(/\./g, '/')}`;

/** The machine's inotify limits, or undefined where they cannot be read (not Linux). */
export function readInotifyLimits(): InotifyCounts | undefined {
  try {
    const read = (name: string) => Number(readFileSync(PROC_SYS(name), 'utf8').trim());
    const limits = { instances: read(SYSCTL.instances), watches: read(SYSCTL.watches) };
    return Number.isFinite(limits.instances) && Number.isFinite(limits.watches) ? limits : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Instances and watches root's processes hold now (the containers' processes are root on the engine host).
 * Undefined when another user's process could not be read (run without root): then only the estimate counts.
 */
export function countRootInotify(): InotifyCounts | undefined {
  let instances = 0;
  let watches = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      if (statSync(`/proc/${pid}`).uid !== 0) continue;
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') return undefined;
      continue; // the process ended meanwhile
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:inotify') continue;
        instances++;
        const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
        watches += info.split('\n').filter((l) => l.startsWith('inotify wd:')).length;
      } catch {
        // closed meanwhile
      }
    }
  }
  return { instances, watches };
}

/** Write the raised limits (needs root). */
export function writeInotifyLimits(raise: Record<string, number>): void {
  for (const [name, value] of Object.entries(raise)) writeFileSync(PROC_SYS(name), `${value}\n`);
}

/**
 * Before a lab starts: stop (exit 2, with the command) if the machine's inotify limits would run out,
 * or raise them when the operator asked for it with --fix-host-limits.
 */
export function ensureInotifyLimits(
  opts: { newNodes: number; otherLabNodes: number; fix: boolean },
  progress: (m: string) => void,
): void {
  const limits = readInotifyLimits();
  if (!limits) return;
  const root = process.getuid?.() === 0;
  const d = inotifyDecision({ ...opts, limits, inUse: countRootInotify(), root });
  if (d.ok || !d.command) return;
  if (!opts.fix) {
    throw new UserError(
      `this machine's inotify limits are too low for the lab: ${d.reason}; its kubelets would fail ` +
        `with "too many open files". Raise them (or run lab up with --fix-host-limits):\n  ${d.command}`,
    );
  }
  try {
    writeInotifyLimits(d.raise);
  } catch (err) {
    const why = (err as Error).message;
    throw new UserError(`--fix-host-limits could not raise the inotify limits (${why}); run:\n  ${d.command}`);
  }
  progress(`raised inotify limits (${d.reason}): ${d.command.replace(/^sudo /, '')}; not kept after a reboot`);
}
