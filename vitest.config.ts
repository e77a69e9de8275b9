import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at once on CI's two cores: most of a file's time is wid subprocesses and servers waiting on each other
    maxWorkers: 2,
  },
})
