// graphile-worker's idle worker for scenario f: its library runner with one task kind, started as our
// worker is (the same node flags), printing one line once it listens for jobs.
import { Logger, run } from 'graphile-worker'

const url = process.argv[2]
const runner = await run({
  connectionString: url,
  concurrency: 4,
  noHandleSignals: true,
  taskList: { noop: async () => {} },
  logger: new Logger(() => () => {}),
})
console.log('graphile worker started')
process.on('SIGTERM', () => void runner.stop().then(() => process.exit(0)))
