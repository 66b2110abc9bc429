import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
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
          exclude: ['test/e2e/lxd.test.ts'],
          testTimeout: 1_200_000,
          hookTimeout: 3_000_000,
        },
      },
      {
        // The cluster on an LXD lab: needs LXD installed, which CI does not do (npm run test:e2e:lxd).
        test: {
          name: 'e2e-lxd',
          include: ['test/e2e/lxd.test.ts'],
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
