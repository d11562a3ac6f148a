import { UnauthorizedError } from '@mortar/core'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { sameSecret } from '../secrets/index.js'
import { parseForms } from '../storefront/index.js'
import { parseInput } from '../validation/index.js'
import type { SmsOutbox } from './sms-outbox.js'

/** Options of {@link smsStubRoutes}: where messages go, and the credentials the stub takes. */
export interface SmsStubRoutesOptions {
  readonly outbox: SmsOutbox
  readonly accountSid: string
  readonly authToken: string
}

const messageForm = z.object({
  To: z.string().regex(/^\+[1-9]\d{6,14}$/),
  From: z.string().min(1).max(64),
  Body: z.string().min(1).max(1600),
})

/**
 * A development stand-in for a Twilio-shaped SMS provider, served by the shop itself (under
 * `/dev/sms`, outside production) so SMS work with nothing to sign up for:
 * `POST /2010-04-01/Accounts/:sid/Messages.json` (`To`, `From`, `Body`, HTTP basic auth with the
 * account sid and token) keeps the message in the {@link SmsOutbox} and answers
 * `{ sid, status: 'queued' }`; the admin pages list what it took.
 */
export async function smsStubRoutes(
  server: FastifyInstance,
  options: SmsStubRoutesOptions,
): Promise<void> {
  parseForms(server)
  const expected = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`
  server.post<{ Params: { sid: string } }>(
    '/2010-04-01/Accounts/:sid/Messages.json',
    async (request, reply) => {
      const authorization = request.headers.authorization ?? ''
      if (request.params.sid !== options.accountSid || !sameSecret(authorization, expected)) {
        throw new UnauthorizedError('Unknown account or wrong token.')
      }
      const form = parseInput(messageForm, request.body)
      const key = request.headers['idempotency-key']
      const sms = options.outbox.take({
        to: form.To,
        from: form.From,
        body: form.Body,
        idempotencyKey: typeof key === 'string' ? key : undefined,
      })
      reply.code(201)
      return { sid: sms.sid, status: 'queued', to: sms.to }
    },
  )
}
