import { Readable } from 'node:stream'
import * as zlib from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isMortarError } from '../../errors/index.js'
import { type ContentCoding, contentCoding, decodeBody, decodingStream } from './content-coding.js'

const encoders: Partial<Record<ContentCoding, (bytes: Uint8Array) => Uint8Array>> = {
  gzip: (bytes) => zlib.gzipSync(bytes),
  deflate: (bytes) => zlib.deflateSync(bytes),
  br: (bytes) => zlib.brotliCompressSync(bytes),
  ...('zstdCompressSync' in zlib
    ? { zstd: (bytes: Uint8Array) => zlib.zstdCompressSync(bytes) }
    : {}),
}
const codings = Object.keys(encoders) as ContentCoding[]

// What the stream gives: its bytes, or the error it failed with.
async function streamed(bytes: Uint8Array, coding: ContentCoding, limit: number) {
  const chunks: Buffer[] = []
  try {
    for await (const chunk of decodingStream(Readable.from([Buffer.from(bytes)]), coding, limit)) {
      chunks.push(chunk as Buffer)
    }
    return { bytes: Buffer.concat(chunks) }
  } catch (error) {
    return { error }
  }
}

const statusOf = (error: unknown) => (isMortarError(error) ? error.status : `untyped: ${error}`)

describe('content codings of request bodies', () => {
  it('gives back what was encoded, whole or streamed, within the limit and past it a 413', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.constantFrom(...codings),
        fc.integer({ min: 0, max: 4000 }),
        async (bytes, coding, limit) => {
          const encoded = (encoders[coding] as (b: Uint8Array) => Uint8Array)(bytes)
          const whole = (() => {
            try {
              return { bytes: Buffer.from(decodeBody(encoded, coding, limit)) }
            } catch (error) {
              return { error }
            }
          })()
          const stream = await streamed(encoded, coding, limit)
          for (const result of [whole, stream]) {
            if (bytes.length > limit) expect(statusOf(result.error)).toBe(413)
            else expect(result.bytes).toEqual(Buffer.from(bytes))
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('fails on bytes not in their coding only with a typed 400 or 413', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.constantFrom(...codings),
        async (bytes, coding) => {
          let whole: unknown
          try {
            decodeBody(bytes, coding, 1024)
          } catch (error) {
            whole = error
          }
          const stream = await streamed(bytes, coding, 1024)
          for (const error of [whole, stream.error]) {
            if (error !== undefined) expect([400, 413]).toContain(statusOf(error))
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('stops decoding a bomb at the limit', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024))
    const result = await streamed(bomb, 'gzip', 1024)
    expect(statusOf(result.error)).toBe(413)
    expect(() => decodeBody(bomb, 'gzip', 1024)).toThrow(expect.objectContaining({ status: 413 }))
  })

  it('takes no coding, identity, and known codings in any case; refuses others with a 415', () => {
    for (const none of [undefined, '', 'identity', ' Identity '])
      expect(contentCoding(none)).toBe(undefined)
    expect(contentCoding('GZip')).toBe('gzip')
    for (const other of ['compress', 'x-gzip', 'gzip, br', 'identity, gzip', 'gzip;q=1']) {
      expect(() => contentCoding(other)).toThrow(expect.objectContaining({ status: 415 }))
    }
  })
})
