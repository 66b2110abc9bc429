import { basename } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The e2e files run one after another in the order CI's background build (test/e2e/prebuild.sh) makes what they
// need: the default release's bundle, then upstream's kubeadm tools, then the previous minor's bundle (the upgrade).
const E2E_ORDER = [
  'cluster',
  'ha',
  'dual-stack',
  'lxd',
  'kubeadm-dryrun',
  'kubeadm-interop',
  'foreign-join',
  'upgrade',
];
class BuildOrderSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]) {
    const rank = (f: TestSpecification) =>
      f.moduleId.includes('/test/e2e/') ? E2E_ORDER.indexOf(basename(f.moduleId, '.test.ts')) : -1;
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    sequence: { sequencer: BuildOrderSequencer },
    projects: [
      // Renders in hooks make RSA keys: with the cores busy they take far longer than vitest's 10 s hook default.
      { test: { name: 'unit', include: ['src/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 60_000 } },
      {
        // Real containerized hosts, with room for package installs. One file at a time: a project cannot set
        // fileParallelism (Vitest ignores it there), so the npm scripts pass --no-file-parallelism.
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 900_000,
        },
      },
      {
        // A real cluster from upstream components built here: long, run on its own (npm run test:e2e).
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 1_200_000,
          hookTimeout: 3_000_000,
        },
      },
      {
        // kprov on a QEMU VM lab (its own kernel, cgroup v2): needs qemu, too slow for CI (npm run test:e2e:vm).
        test: {
          name: 'e2e-vm',
          include: ['test/e2e-vm/**/*.test.ts'],
          testTimeout: 2_400_000,
          hookTimeout: 3_000_000,
        },
      },
      {
        // The same kind of real cluster, longer than CI's budget leaves: run by hand (npm run test:e2e:manual).
        test: {
          name: 'e2e-manual',
          include: ['test/e2e-manual/**/*.test.ts'],
          testTimeout: 2_400_000,
          hookTimeout: 3_000_000,
        },
      },
      {
        // Upstream's Conformance suite against a lab cluster (npm run conformance, conformance:slice).
        test: {
          name: 'conformance',
          include: ['test/conformance/**/*.test.ts'],
          testTimeout: 14_400_000,
          hookTimeout: 3_600_000,
        },
      },
    ],
  },
});
