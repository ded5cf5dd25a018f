import { findSimilarTask } from './find-similar/index.ts'
import { parseTask } from './parse/index.ts'
import { reportTask } from './report/index.ts'
import type { TaskDefinition } from './types.ts'

/** Every task kind the service runs. Kinds are stable strings: never rename one. */
export const TASKS: readonly TaskDefinition[] = [parseTask, findSimilarTask, reportTask]
