// The SDKs' ingestion endpoint for the analytics bench, in a process of its own: counts the
// distinct events of each batch (PostHog's /batch/, Segment's /v1/batch, gzip or not) by their
// id, so a batch the SDK sent again after a timeout is not counted twice, answering after an
// optional delay, and reports the count on request.
import { createServer } from 'node:http'
import { gunzipSync } from 'node:zlib'

const delayMs = Number(process.argv[2] ?? 0)
const seen = new Set()
let events = 0

const server = createServer((request, response) => {
  const chunks = []
  request.on('data', (chunk) => chunks.push(chunk))
  request.on('end', () => {
    let body = Buffer.concat(chunks)
    if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body)
    try {
      const parsed = JSON.parse(body.toString('utf8'))
      for (const event of parsed.batch ?? []) {
        const id = event.messageId ?? event.uuid
        if (id === undefined) events++
        else if (!seen.has(id)) {
          seen.add(id)
          events++
        }
      }
    } catch {}
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end('{"status":1}')
    }, delayMs)
  })
})

server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
process.on('message', (message) => {
  if (message === 'count') process.send({ events })
  if (message === 'reset') {
    events = 0
    seen.clear()
    process.send({ ok: true })
  }
})
process.on('disconnect', () => process.exit(0))
