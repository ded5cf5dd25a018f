import { createHash, timingSafeEqual } from 'node:crypto'

/** The SHA-256 digest a key is kept and compared as: the service never holds a key in the clear after start. */
export const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

/**
 * True when `presented` hashes to one of `hashes`. Both sides are 32-byte digests, so timingSafeEqual
 * never sees unequal lengths (no length leak), and every configured key is compared (no early exit).
 */
export function matchesAnyKey(hashes: readonly Buffer[], presented: string): boolean {
  const digest = sha256(presented)
  let found = false
  for (const hash of hashes) found = timingSafeEqual(hash, digest) || found
  return found
}
