import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * A share link's token: `<share id>.<expiry, Unix seconds>.<HMAC-SHA256 of both>`. The signature
 * makes a token unforgeable and its expiry tamper-proof; the share row makes it revocable.
 */
export function signShareToken(secret: string, shareId: string, expiresAt: Date): string {
  const expires = Math.floor(expiresAt.getTime() / 1000)
  return `${shareId}.${expires}.${mac(secret, shareId, expires)}`
}

function mac(secret: string, shareId: string, expires: number): string {
  return createHmac('sha256', secret).update(`${shareId}.${expires}`).digest('base64url')
}

/** The share id of a valid, unexpired token; undefined for anything else. */
export function verifyShareToken(secret: string, token: string, now = new Date()): { shareId: string; expiresAt: Date } | undefined {
  const match = /^([0-9a-f-]{36})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token)
  if (!match) return undefined
  const [, shareId, expiresText, signature] = match
  const expires = Number(expiresText)
  const expected = Buffer.from(mac(secret, shareId, expires))
  const given = Buffer.from(signature)
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined
  if (expires * 1000 <= now.getTime()) return undefined
  return { shareId, expiresAt: new Date(expires * 1000) }
}
