import { describe, expect, it } from 'vitest';
import { countRootInotify, inotifyDecision, readInotifyLimits } from './host-limits.js';

const HOST = { instances: 128, watches: 192_536 };

describe('lab up: inotify limits of the engine host', () => {
  it('refuses the case that ran out: five kubelet nodes beside another lab of three, at 128 instances', () => {
    const d = inotifyDecision({ limits: HOST, newNodes: 5, otherLabNodes: 3, root: true });
    expect(d.ok).toBe(false);
    expect(d.need.instances).toBe(8 * 20 + 16);
    // Only the limit that is short is raised, to kind's value.
    expect(d.raise).toEqual({ 'fs.inotify.max_user_instances': 512 });
    expect(d.command).toBe('sysctl -w fs.inotify.max_user_instances=512');
    expect(d.reason).toMatch(/^fs\.inotify\.max_user_instances is 128, about 176 needed \(5 new lab nodes and 3 /);
  });

  it('lets the default lab (1 master, 2 workers) start on a fresh 128 host, and a small one beside it', () => {
    expect(inotifyDecision({ limits: HOST, newNodes: 3, otherLabNodes: 0, root: true }).ok).toBe(true);
    expect(inotifyDecision({ limits: HOST, newNodes: 2, otherLabNodes: 3, root: true }).ok).toBe(true);
  });

  it('counts what is in use now when that is more than the labs account for (kind, other containers)', () => {
    const inUse = { instances: 90, watches: 5000 };
    const d = inotifyDecision({ limits: HOST, newNodes: 2, otherLabNodes: 0, inUse, root: true });
    expect(d.need.instances).toBe(90 + 2 * 20 + 16);
    expect(d.ok).toBe(false);
    expect(d.reason).toContain('90 instances and 5000 watches in use now');
  });

  it('asks for sudo when not root, and raises watches too when they are short, in one command', () => {
    const lowWatches = { instances: 128, watches: 8192 };
    const d = inotifyDecision({ limits: lowWatches, newNodes: 4, otherLabNodes: 0, root: false });
    expect(d.ok).toBe(false);
    expect(d.command).toBe('sudo sysctl -w fs.inotify.max_user_watches=524288');
    const lowBoth = { ...lowWatches, instances: 64 };
    const both = inotifyDecision({ limits: lowBoth, newNodes: 4, otherLabNodes: 0, root: false });
    expect(both.command).toBe('sudo sysctl -w fs.inotify.max_user_instances=512 fs.inotify.max_user_watches=524288');
  });

  it("never lowers a limit, and suggests the need itself when that is above kind's value", () => {
    const high = { instances: 8192, watches: 1 << 20 };
    expect(inotifyDecision({ limits: high, newNodes: 9, otherLabNodes: 9, root: true }).ok).toBe(true);
    const big = inotifyDecision({ limits: HOST, newNodes: 30, otherLabNodes: 0, root: true });
    expect(big.raise['fs.inotify.max_user_instances']).toBe(30 * 20 + 16);
  });

  it("reads this machine's limits and counts inotify use without failing", () => {
    const limits = readInotifyLimits();
    if (!limits) return; // not Linux
    expect(limits.instances).toBeGreaterThan(0);
    const used = countRootInotify();
    if (used) expect(used.instances).toBeGreaterThanOrEqual(0);
  });
});
