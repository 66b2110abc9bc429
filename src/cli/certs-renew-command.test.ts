import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clusterStateDirFor } from '../config/state-dir.js';
import { runCli } from './run.testing.js';

const dir = mkdtempSync(join(tmpdir(), 'kprov-certs-renew-cli-'));
process.env.KPROV_HOME = join(dir, 'home');
const key = join(dir, 'id');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
const pub = join(dir, 'op.pub');
writeFileSync(pub, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9vZm9v op@laptop\n');
// Port 1 on loopback: nothing listens, so a run that gets as far as connecting fails at once.
const inventory = join(dir, 'hosts');
writeFileSync(
  inventory,
  `[masters]\nm1 ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_private_key_file=${key}\n` +
    `[all:vars]\nsudo_user_public_key=${pub}\n`,
);
// A cluster kprov made: only a name check stands between the command and the hosts.
const state = clusterStateDirFor(inventory, 'kubernetes');
mkdirSync(state, { recursive: true });
writeFileSync(join(state, 'admin.conf'), 'apiVersion: v1\nkind: Config\n');

const renew = (...args: string[]) =>
  runCli('certs', 'renew', inventory, ...args, '--dry-run', '--log-file', join(dir, 'run.log'));

afterEach(() => vi.restoreAllMocks());

describe('kprov certs renew NAME...', () => {
  it('refuses an unknown name with the valid ones, before connecting (exit 2)', async () => {
    const r = await renew('apiserver', 'kubelet.conf');
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown certificate "kubelet.conf"; valid names: all, admin.conf, apiserver,');
    expect(r.out).not.toContain('connect');
  });

  it('refuses all together with names (exit 2)', async () => {
    const r = await renew('all', 'etcd-server');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/give either all or certificate names/);
    expect(r.out).not.toContain('connect');
  });

  it('takes several names, and goes on to look for the cluster', async () => {
    // Another inventory file: a cluster kprov has no state for, refused right after the names are taken.
    const other = join(dir, 'other-hosts');
    copyFileSync(inventory, other);
    const r = await runCli('certs', 'renew', other, 'etcd-server', 'scheduler.conf', 'etcd-server', '--dry-run');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no cluster state in .*: run kprov init first/);
  });
});
