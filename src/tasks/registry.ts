import type { TaskDefinition } from './types.ts'

/** Every task kind the service runs. Kinds are stable strings: never rename one. */
export const TASKS: readonly TaskDefinition[] = []
