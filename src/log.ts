import { pino, type Logger } from 'pino'

export type { Logger }

/** JSON lines to stdout; child loggers carry job_id, kind, session_id and attempt. */
export function createLogger(options: { level: string; name?: string }): Logger {
  return pino({
    name: options.name ?? 'housler',
    level: options.level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Never log credentials, even when a caller passes a whole request or config object.
    redact: {
      paths: [
        'password',
        '*.password',
        'authorization',
        '*.authorization',
        'headers.authorization',
        'headers["x-api-key"]',
        'apiKey',
        'databaseUrl',
        '*.databaseUrl',
        'webhookSecret',
      ],
      censor: '[redacted]',
    },
  })
}

/** A logger that writes nothing: for tests and the CLI's quiet paths. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' })
}
