import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'

/** Builds the services task handlers use (fetcher, stores). */
export function createTaskDeps(config: Config, log: Logger): Record<string, unknown> {
  return { config, log }
}
