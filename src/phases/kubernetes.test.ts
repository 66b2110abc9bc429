import { describe, expect, it } from 'vitest';
import type { Bundle } from '../artifacts/bundle.js';
import type { HostSpec } from '../config/settings.js';
import { Host } from '../host/host.js';
import { FakeConnection } from '../ssh/fake-connection.testing.js';
import { testContext } from './context.testing.js';
import { imagesPhase } from './kubernetes.js';

const bundle = {
  images: [
    { file: '/b/images/pause.tar', refs: ['registry.k8s.io/pause:3.10.2'] },
    { file: '/b/images/apiserver.tar', refs: ['registry.k8s.io/kube-apiserver:v1.37.2'] },
  ],
} as Bundle;
const worker = { name: 'w1', controlPlane: false, worker: true } as HostSpec;

describe('bundle images', () => {
  // Regression: a dry run of join on a host kprov had not prepared failed here: containerd's ctr is not there yet.
  it('in a dry run before the runtime is installed, lists every worker image as an import', async () => {
    const conn = new FakeConnection('w1', (command) =>
      command.startsWith('ctr ') ? { code: 127, stderr: 'ctr: command not found' } : undefined,
    );
    const host = new Host(worker, conn.asConnection(), true);
    const { ctx } = testContext([host], undefined, { dryRun: true });
    await imagesPhase(bundle).runHost!(host, ctx);
    expect(host.changes).toEqual(['import registry.k8s.io/pause:3.10.2']);
  });

  it('outside a dry run, a missing ctr is an error', async () => {
    const conn = new FakeConnection('w1', (command) => (command.startsWith('ctr ') ? { code: 127 } : undefined));
    const host = new Host(worker, conn.asConnection(), false);
    const { ctx } = testContext([host]);
    await expect(imagesPhase(bundle).runHost!(host, ctx)).rejects.toThrow(/list images failed: exit 127/);
  });
});
