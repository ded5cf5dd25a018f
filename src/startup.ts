import { ConfigError } from './config.ts'
import { AppError, StartupError, coerceError } from './errors.ts'

type Failure = Error & { code?: string; errors?: unknown[] }

/**
 * The one line a composition root prints when start-up fails: the cause and the fix. `expected` is
 * false for failures nobody anticipated, whose stack is worth printing too.
 */
export function explainStartupFailure(value: unknown, databaseUrl?: string): { line: string; expected: boolean } {
  const error = coerceError(value) as Failure
  if (error instanceof StartupError || error instanceof ConfigError) return { line: error.message, expected: true }
  const known = explainDatabaseError(error, databaseUrl) ?? explainMigrationError(error)
  if (known) return { line: known, expected: true }
  if (error instanceof AppError && error.message) return { line: error.message, expected: true }
  const detail = error.message || [error.name, error.code].filter(Boolean).join(' ') || 'an error without a message'
  return { line: detail, expected: false }
}

/** A failure explained in one line becomes a StartupError carrying it; anything else is passed on as it is. */
export function toStartupError(value: unknown, databaseUrl: string | undefined): Error {
  const { line, expected } = explainStartupFailure(value, databaseUrl)
  return expected ? new StartupError(line, { cause: value }) : coerceError(value)
}

/** Prints the failure (one line; a stack only for the unexpected) and exits non-zero. */
export function exitOnStartupFailure(program: string, value: unknown): never {
  const { line, expected } = explainStartupFailure(value)
  console.error(`${program} failed to start: ${line}`)
  if (!expected) console.error(coerceError(value).stack)
  process.exit(1)
}

function target(databaseUrl: string | undefined): { where: string; user: string; database: string } {
  try {
    const url = new URL(databaseUrl ?? '')
    return {
      where: `${url.hostname || 'localhost'}:${url.port || 5432}`,
      user: decodeURIComponent(url.username) || 'the default user',
      database: decodeURIComponent(url.pathname.slice(1)) || 'the default database',
    }
  } catch {
    return { where: 'the configured server', user: 'the configured user', database: 'the configured database' }
  }
}

/** pg and pg-boss errors on the first connection: refused, unknown host, wrong password, no database. */
function explainDatabaseError(error: Failure, databaseUrl: string | undefined): string | undefined {
  const inner = (Array.isArray(error.errors) && (error.errors[0] as Failure | undefined)) || error
  const code = inner.code ?? error.code
  const { where, user, database } = target(databaseUrl)
  const source = databaseUrl ? 'DATABASE_URL' : 'the embedded PostgreSQL'
  switch (code) {
    case 'ECONNREFUSED':
      return `cannot connect to PostgreSQL at ${where} (connection refused) — is the server running? Check ${source}`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the database host in ${source} (${where}) cannot be resolved — check DATABASE_URL`
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `PostgreSQL at ${where} cannot be reached (${code}) — check DATABASE_URL and the network`
    case '28P01':
      return `PostgreSQL at ${where} refused the password for user "${user}" — check the password in DATABASE_URL`
    case '28000':
      return `PostgreSQL at ${where} does not let user "${user}" connect to "${database}" (pg_hba.conf) — check DATABASE_URL or the server's pg_hba.conf`
    case '3D000':
      return `database "${database}" does not exist on ${where} — create it (createdb ${database}) or fix DATABASE_URL`
    case '53300':
      return `PostgreSQL at ${where} has no free connections (max_connections reached) — retry later, lower DB_POOL_SIZE, or raise max_connections`
    case '53100':
      return `the disk of PostgreSQL at ${where} is full — free space on the database server`
    case 'ENOSPC':
      return 'the disk is full — free some space'
    case '57P03':
      return `PostgreSQL at ${where} is starting up or shutting down — retry in a few seconds`
    case '42501':
      return `user "${user}" may not create the schemas the service needs in "${database}" (permission denied) — grant it CREATE on the database, or use its owner in DATABASE_URL`
  }
  if (/timeout exceeded when trying to connect/i.test(error.message)) {
    return `PostgreSQL at ${where} did not answer in time — check DATABASE_URL and the network`
  }
  if (/self.signed certificate|does not support SSL|SSL/i.test(error.message)) {
    return `the TLS settings of DATABASE_URL do not match the server at ${where} (${error.message}) — adjust sslmode`
  }
  return undefined
}

/** Kysely's migrator refuses a database that ran migrations this checkout lacks. */
function explainMigrationError(error: Failure): string | undefined {
  const missing = /previously executed migration (\S+) is missing/i.exec(error.message)
  if (missing) {
    return `the database has run migration ${missing[1]}, which this checkout does not have (a newer version migrated it) — update this checkout, or point DATABASE_URL at another database`
  }
  if (/corrupted migrations/i.test(error.message)) {
    return `the database's migration history does not match this checkout (${error.message}) — update this checkout, or point DATABASE_URL at another database`
  }
  return undefined
}
