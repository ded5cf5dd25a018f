import { PgBoss } from 'pg-boss'
import type { Config } from '../config.ts'
import { isConnectionRefusal } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { TaskDefinition } from '../tasks/types.ts'

/** A pg-boss instance with one queue per task kind. Workers use our own fetch loop, not boss.work(). */
export type BossOptions = {
  config: Config
  tasks: readonly TaskDefinition[]
  log: Logger
  /** Run pg-boss supervision (expiry, heartbeat checks) in this process. */
  supervise: boolean
}

export async function startBoss(options: BossOptions & {
  /** Runs pg-boss's SQL on the process's pool: pg-boss opens none of its own, adding nothing to the budget. */
  executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }>
}): Promise<PgBoss> {
  const { config } = options
  const boss = new PgBoss({
    db: { executeSql: options.executeSql },
    supervise: options.supervise,
    schedule: false,
    // Expired and heartbeat-lost jobs are found by the monitor: how often bounds crash recovery time.
    monitorIntervalSeconds: config.monitorIntervalSeconds,
    superviseIntervalSeconds: Math.max(1, config.monitorIntervalSeconds),
    // Dependents are unblocked by an explicit resolveFlow() after each parent completes; this is the backstop.
    flowIntervalSeconds: 2,
    registerInstance: false,
    openTelemetry: { enabled: false },
  })
  boss.on('error', (error) => {
    // A refused session is logged once per episode by the pool, not once per maintenance pass.
    if (!isConnectionRefusal(error)) options.log.error({ err: error.message }, 'pg-boss error')
  })
  boss.on('warning', (warning: unknown) => options.log.warn({ warning }, 'pg-boss warning'))
  await boss.start()
  for (const task of options.tasks) {
    await boss.createQueue(task.kind, queueOptions(task, config))
    await boss.updateQueue(task.kind, queueOptions(task, config))
  }
  return boss
}

/** Queue-level defaults, set again at every start so a changed config takes effect. */
export function queueOptions(task: TaskDefinition, config: Config) {
  const timeoutSeconds = task.timeoutSeconds ?? config.jobTimeoutSeconds
  return {
    retryLimit: task.retry.maxAttempts - 1,
    retryDelay: task.retry.backoffSeconds,
    retryBackoff: task.retry.backoffSeconds > 0,
    // Exponential back-off with jitter (pg-boss: delay × 2^retry, randomised), capped.
    ...(task.retry.backoffSeconds > 0 ? { retryDelayMax: Math.max(task.retry.backoffSeconds, task.retry.backoffMaxSeconds) } : {}),
    // Our worker aborts a handler at its timeout; pg-boss's expiry is the backstop for a stuck process.
    expireInSeconds: timeoutSeconds + 10,
    heartbeatSeconds: config.heartbeatSeconds,
    // Our own cleanup enforces RQ_RESULT_TTL / RQ_FAILURE_TTL to the minute; this is only a backstop.
    deleteAfterSeconds: Math.max(config.resultTtlSeconds, config.failureTtlSeconds) + 86400,
  }
}
