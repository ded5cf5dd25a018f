import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fleet tests run on their own: npm run test:fleet (vitest.fleet.config.ts).
    exclude: [...configDefaults.exclude, 'test/fleet/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Per file: a failed test keeps its database; leftover processes, sockets and servers fail the file.
    setupFiles: ['test/helpers/leak-check.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more forks only fight over them and over Postgres.
    maxWorkers: 2,
    reporters: ['default'],
  },
})
