// The SDKs' ingestion endpoint for the analytics bench, in a process of its own: counts the
// events of each batch (PostHog's /batch/, Segment's /v1/batch, gzip or not), answering after
// an optional delay, and reports the count on request.
import { createServer } from 'node:http'
import { gunzipSync } from 'node:zlib'

const delayMs = Number(process.argv[2] ?? 0)
let events = 0

const server = createServer((request, response) => {
  const chunks = []
  request.on('data', (chunk) => chunks.push(chunk))
  request.on('end', () => {
    let body = Buffer.concat(chunks)
    if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body)
    try {
      const parsed = JSON.parse(body.toString('utf8'))
      events += (parsed.batch ?? []).length
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
    process.send({ ok: true })
  }
})
process.on('disconnect', () => process.exit(0))
