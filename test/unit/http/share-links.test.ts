import { describe, expect, it } from 'vitest'
import { signShareToken, verifyShareToken } from '../../../src/http/share-links.ts'

const SECRET = 'a-share-link-secret-of-some-length'
const ID = '6f1d2c0a-8a52-4c2e-9a5b-3b1f0e9d7c11'

describe('share link tokens', () => {
  const expires = new Date('2026-12-08T00:00:00Z')
  const token = signShareToken(SECRET, ID, expires)

  it('verifies its own token until it expires', () => {
    expect(token).toMatch(new RegExp(`^${ID}\\.1796688000\\.[A-Za-z0-9_-]{43}$`))
    expect(verifyShareToken(SECRET, token, new Date('2026-12-07T23:59:59Z'))).toEqual({ shareId: ID, expiresAt: expires })
    expect(verifyShareToken(SECRET, token, expires)).toBeUndefined()
  })

  it('refuses a token signed with another key, a moved expiry or a changed id', () => {
    const now = new Date('2026-12-01T00:00:00Z')
    expect(verifyShareToken('another-secret-of-some-length!!', token, now)).toBeUndefined()
    const [, , signature] = token.split('.')
    expect(verifyShareToken(SECRET, `${ID}.1899999999.${signature}`, now)).toBeUndefined()
    expect(verifyShareToken(SECRET, `${ID.replace(/^6/, '7')}.1796688000.${signature}`, now)).toBeUndefined()
    expect(verifyShareToken(SECRET, 'not-a-token', now)).toBeUndefined()
  })
})
