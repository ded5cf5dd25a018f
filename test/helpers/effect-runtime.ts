import pg from 'pg'
import type { Runtime } from '../../src/runtime.ts'
import type { TaskDefinition } from '../../src/tasks/types.ts'
import { openTestRuntime } from './service.ts'
import { effectTask, EFFECT_TABLES_SQL } from './test-worker-tasks.ts'

export type EffectRuntime = { runtime: Runtime & { databaseUrl: string }; client: pg.Client; close(): Promise<void> }

/**
 * For tests of worker processes (test/helpers/test-worker.ts): a runtime on this file's database, which
 * the processes share, with the effect task's tables created and a client to read them.
 */
export async function openEffectRuntime(options: {
  env: Record<string, string>
  tasks?: readonly TaskDefinition[]
  supervise?: boolean
  serves?: { api?: boolean; worker?: boolean }
}): Promise<EffectRuntime> {
  const runtime = await openTestRuntime({ tasks: options.tasks ?? [effectTask], env: options.env, supervise: options.supervise, serves: options.serves })
  const client = new pg.Client({ connectionString: runtime.url })
  try {
    await client.connect()
    await client.query(EFFECT_TABLES_SQL)
  } catch (e) {
    await client.end().catch(() => {})
    await runtime.close()
    throw e
  }
  return {
    runtime,
    client,
    async close() {
      await client.end()
      await runtime.close()
    },
  }
}
