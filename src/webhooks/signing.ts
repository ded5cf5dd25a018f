import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'x-housler-signature'
export const TIMESTAMP_HEADER = 'x-housler-timestamp'
export const EVENT_ID_HEADER = 'x-housler-event-id'

/** `v1=` + hex HMAC-SHA256 over `${timestamp}.${body}`: the timestamp is signed so a replay can be refused by age. */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

export function webhookHeaders(secret: string, eventId: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000)
  return {
    [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
    [TIMESTAMP_HEADER]: String(timestamp),
    [EVENT_ID_HEADER]: eventId,
  }
}

/** The receiver's side, as documented in README.md (Webhooks); used by tests. */
export function verifyWebhook(secret: string, headers: Record<string, string | undefined>, body: string, toleranceSeconds = 300): boolean {
  const timestamp = Number(headers[TIMESTAMP_HEADER])
  const signature = headers[SIGNATURE_HEADER] ?? ''
  if (!Number.isFinite(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > toleranceSeconds) return false
  const expected = Buffer.from(signWebhook(secret, timestamp, body))
  const given = Buffer.from(signature)
  return expected.length === given.length && timingSafeEqual(expected, given)
}
