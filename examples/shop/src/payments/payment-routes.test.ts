import { reencryptColumn, resolveDatabase, VAULT, Vault } from '@mortar/core'
import { afterAll, describe, expect, it } from 'vitest'
import { vaultKeyRing } from '../secrets/index.js'
import { CookieJar } from '../testing/cookie-jar.js'
import { shopTestEngines, useTestShop } from '../testing/test-shop.js'
import { PAYMENT_METHODS, tokenAad } from './payment-methods.js'
import type { PaymentsDb } from './payments-db.js'

const TOKEN = 'tok_visa_4242_9f8e7d6c5b4a'

for (const engine of shopTestEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(
    `saved payment methods on ${engine.describeTitle}`,
    () => {
      const shop = useTestShop({ engine })
      let accounts = 0

      async function loggedIn(): Promise<{ jar: CookieJar; userId: string }> {
        accounts += 1
        const jar = new CookieJar({ base: shop().base })
        const signup = await jar.request('POST', '/auth/signup', {
          email: `payer-${accounts}-${Date.now()}@example.com`,
          password: 'correct horse battery',
        })
        expect(signup.status).toBe(201)
        return { jar, userId: (signup.json.user as { id: string }).id }
      }

      async function rawRow(id: string) {
        return resolveDatabase<PaymentsDb>(shop().app)
          .selectFrom('payment_methods')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      }

      afterAll(async () => {})

      it('stores the token encrypted and shows only the brand and last four digits', async () => {
        const { jar, userId } = await loggedIn()
        const saved = await jar.request('POST', '/payment-methods', {
          token: TOKEN,
          last4: '4242',
          brand: 'visa',
        })
        expect(saved.status).toBe(201)
        expect(Object.keys(saved.json).sort()).toEqual(['brand', 'createdAt', 'id', 'last4'])
        expect(saved.json).toMatchObject({ brand: 'visa', last4: '4242' })
        const id = saved.json.id as string

        const listed = await jar.request('GET', '/payment-methods')
        expect(listed.json).toEqual({ items: [saved.json] })
        expect(JSON.stringify(listed.json)).not.toContain(TOKEN)

        const row = await rawRow(id)
        expect(row.user_id).toBe(userId)
        expect(row.token_ciphertext).not.toBe(TOKEN)
        expect(row.token_ciphertext).not.toContain(TOKEN)
        expect(row.token_ciphertext).not.toContain('tok_visa')
        // Only the Vault, with the row's own associated data, gets the token back.
        expect(await shop().app.resolve(PAYMENT_METHODS).providerToken(userId, id)).toBe(TOKEN)
        expect(
          shop()
            .app.resolve(VAULT)
            .decrypt(row.token_ciphertext, { aad: tokenAad(row) }),
        ).toBe(TOKEN)
      })

      it('rotates the vault key with reencryptColumn, old tokens still readable', async () => {
        const { jar, userId } = await loggedIn()
        const saved = await jar.request('POST', '/payment-methods', {
          token: TOKEN,
          last4: '4242',
          brand: 'visa',
        })
        const id = saved.json.id as string
        const oldVault = shop().app.resolve(VAULT)
        // A new primary key appended to the ring, as VAULT_KEYS=dev:…,k2027:… would give.
        const vault = new Vault({
          keys: [
            ...vaultKeyRing(shop().app.config.vaultKeys),
            { id: 'k2027', key: Vault.generateKey() },
          ],
        })
        const db = resolveDatabase<PaymentsDb>(shop().app)
        const progress = await reencryptColumn(db, {
          vault,
          table: 'payment_methods',
          idColumn: 'id',
          column: 'token_ciphertext',
          aad: tokenAad,
        })
        expect(progress.reencrypted).toBeGreaterThan(0)
        const row = await rawRow(id)
        expect(vault.keyIdOf(row.token_ciphertext)).toBe('k2027')
        expect(vault.decrypt(row.token_ciphertext, { aad: tokenAad(row) })).toBe(TOKEN)
        expect(() => oldVault.decrypt(row.token_ciphertext, { aad: tokenAad(row) })).toThrow(
          expect.objectContaining({ code: 'E_VAULT_UNKNOWN_KEY' }),
        )
        expect(row.user_id).toBe(userId)
      })

      it('refuses a ciphertext copied onto another user’s row', async () => {
        const victim = await loggedIn()
        const thief = await loggedIn()
        const victimCard = await victim.jar.request('POST', '/payment-methods', {
          token: TOKEN,
          last4: '4242',
          brand: 'visa',
        })
        const thiefCard = await thief.jar.request('POST', '/payment-methods', {
          token: 'tok_thief_0000',
          last4: '0000',
          brand: 'mastercard',
        })
        const stolen = (await rawRow(victimCard.json.id as string)).token_ciphertext
        await resolveDatabase<PaymentsDb>(shop().app)
          .updateTable('payment_methods')
          .set({ token_ciphertext: stolen })
          .where('id', '=', thiefCard.json.id as string)
          .execute()
        await expect(
          shop()
            .app.resolve(PAYMENT_METHODS)
            .providerToken(thief.userId, thiefCard.json.id as string),
        ).rejects.toMatchObject({ code: 'E_VAULT_DECRYPT' })
      })

      it('keeps each user’s payment methods to themselves and deletes them', async () => {
        const owner = await loggedIn()
        const other = await loggedIn()
        const card = await owner.jar.request('POST', '/payment-methods', {
          token: TOKEN,
          last4: '1881',
          brand: 'amex',
        })
        const id = card.json.id as string
        expect((await other.jar.request('GET', '/payment-methods')).json).toEqual({ items: [] })
        const foreign = await other.jar.request('DELETE', `/payment-methods/${id}`)
        expect(foreign.status).toBe(404)

        const deleted = await owner.jar.request('DELETE', `/payment-methods/${id}`)
        expect(deleted.status).toBe(204)
        expect((await owner.jar.request('GET', '/payment-methods')).json).toEqual({ items: [] })
        expect((await owner.jar.request('DELETE', `/payment-methods/${id}`)).status).toBe(404)
      })

      it('saves a card once when its POST is retried or sent twice at once', async () => {
        // Each call saved a row: a retried request listed the card twice.
        const { jar } = await loggedIn()
        const card = { token: 'tok_retried_5555', last4: '5555', brand: 'mastercard' }
        const answers = await Promise.all([
          jar.request('POST', '/payment-methods', card),
          jar.request('POST', '/payment-methods', card),
        ])
        expect(answers.map((answer) => answer.status).sort()).toEqual([200, 201])
        expect(answers[1]?.json).toEqual(answers[0]?.json)
        const again = await jar.request('POST', '/payment-methods', card)
        expect(again.status).toBe(200)
        expect((await jar.request('GET', '/payment-methods')).json).toEqual({
          items: [answers[0]?.json],
        })
        // The token names one card: other digits or brand under it are refused, not saved.
        const other = await jar.request('POST', '/payment-methods', { ...card, last4: '4444' })
        expect(other.status).toBe(422)
        expect(other.json.code).toBe('E_CARD_TOKEN_REUSED')
        expect(JSON.stringify(other.json)).not.toContain(card.token)
        // Another user's same token is that user's own card.
        const stranger = await loggedIn()
        expect((await stranger.jar.request('POST', '/payment-methods', card)).status).toBe(201)
      })

      it('needs a login and a well-formed card, and never echoes the token in a problem', async () => {
        const anonymous = new CookieJar({ base: shop().base })
        expect((await anonymous.request('GET', '/payment-methods')).status).toBe(401)
        const refused = await anonymous.request('POST', '/payment-methods', {
          token: TOKEN,
          last4: '4242',
          brand: 'visa',
        })
        expect(refused.status).toBe(401)

        const { jar } = await loggedIn()
        for (const body of [
          { token: `${TOKEN} with spaces`, last4: '4242', brand: 'visa' },
          { token: TOKEN, last4: '42', brand: 'visa' },
          { token: TOKEN, last4: '4242', brand: 'diners-club-deluxe' },
          { last4: '4242', brand: 'visa' },
        ]) {
          const response = await jar.request('POST', '/payment-methods', body)
          expect(response.status).toBe(422)
          expect(JSON.stringify(response.json)).not.toContain(TOKEN)
        }
        expect((await jar.request('GET', '/payment-methods')).json).toEqual({ items: [] })
      })
    },
  )
}
