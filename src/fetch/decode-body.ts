/** Encodings our sites use (windows-1252 is what iso-8859-1 pages really are); any other label falls back to UTF-8 rather than trusting an odd declaration. */
const SUPPORTED_ENCODINGS: ReadonlySet<string> = new Set(['utf-8', 'windows-1251', 'koi8-r', 'windows-1252'])

const META_CHARSET = /<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)/i

export function charsetFromContentType(contentType: string): string | undefined {
  return /;\s*charset\s*=\s*"?([\w-]+)"?/i.exec(contentType)?.[1]
}

function decoderFor(label: string | undefined): TextDecoder | undefined {
  if (label === undefined) return undefined
  try {
    const decoder = new TextDecoder(label.toLowerCase())
    return SUPPORTED_ENCODINGS.has(decoder.encoding) ? decoder : undefined
  } catch {
    return undefined
  }
}

/** Decodes as the Content-Type charset says, else as an early <meta charset> says, else as UTF-8. */
export function decodeBody(body: Buffer, contentType: string): string {
  const declared = charsetFromContentType(contentType)
  const sniffed = declared ? undefined : META_CHARSET.exec(body.subarray(0, 2048).toString('latin1'))?.[1]
  return (decoderFor(declared) ?? decoderFor(sniffed) ?? new TextDecoder('utf-8')).decode(body)
}
