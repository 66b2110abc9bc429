import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts'], testTimeout: 30_000 } },
      {
        // Real containerized hosts: run one file at a time, with room for package installs.
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 900_000, hookTimeout: 900_000, fileParallelism: false },
      },
    ],
  },
});
