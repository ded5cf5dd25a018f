import { defineConfig } from 'vitest/config'

// npm run test:fleet: dozens of real processes against clusters of the tests' own (no shared
// database, so no global setup); one file at a time, since each one loads the machine.
export default defineConfig({
  test: {
    include: ['test/fleet/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ['default'],
  },
})
