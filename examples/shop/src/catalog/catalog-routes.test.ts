import { resolveDatabase } from '@mortar/core'
import { describe, expect, it } from 'vitest'
import { shopTestEngines, useTestShop } from '../testing/test-shop.js'
import type { CatalogDb } from './catalog-db.js'
import { PRODUCT_CATALOG, type Product } from './product-catalog.js'
import { searchName } from './search-name.js'
import { generateProducts, seedProducts } from './seed-products.js'

interface ProductPage {
  items: Product[]
  nextCursor: string | null
}

const catalog = generateProducts(10_000, 42)

for (const engine of shopTestEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(
    `the catalog over HTTP on ${engine.describeTitle}`,
    () => {
      const shop = useTestShop({ engine })

      async function get(
        path: string,
      ): Promise<{ status: number; type: string | null; body: unknown }> {
        const response = await fetch(`${shop().base}${path}`)
        return {
          status: response.status,
          type: response.headers.get('content-type'),
          body: await response.json(),
        }
      }

      async function walk(query: string): Promise<Product[]> {
        const seen: Product[] = []
        let after: string | null = null
        do {
          const cursor: string = after === null ? '' : `&after=${encodeURIComponent(after)}`
          const { status, body } = await get(`/products?${query}${cursor}`)
          expect(status).toBe(200)
          const page = body as ProductPage
          seen.push(...page.items)
          after = page.nextCursor
        } while (after !== null)
        return seen
      }

      it('seeds 10,000 products once, the same every time', async () => {
        const db = resolveDatabase<CatalogDb>(shop().app)
        expect(await seedProducts(db)).toBe(0)
        const count = await db
          .selectFrom('products')
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .executeTakeFirstOrThrow()
        expect(Number(count.n)).toBe(10_000)
        const stored = await db
          .selectFrom('products')
          .selectAll()
          .where('id', '<=', 50)
          .orderBy('id')
          .execute()
        expect(stored).toEqual(catalog.slice(0, 50))
        expect(generateProducts(50, 7)).not.toEqual(catalog.slice(0, 50))
      })

      it('lists 20 products by name by default, with a cursor to the next page', async () => {
        const { status, body } = await get('/products')
        expect(status).toBe(200)
        const page = body as ProductPage
        expect(page.items).toHaveLength(20)
        expect(page.nextCursor).toEqual(expect.any(String))
        const names = page.items.map((product) => product.name)
        expect(names).toEqual([...names].sort())
      })

      it('pages through the whole catalog once, in name order, 100 at a time', async () => {
        const seen = await walk('limit=100')
        expect(seen).toHaveLength(10_000)
        expect(new Set(seen.map((product) => product.id)).size).toBe(10_000)
        // Names are ASCII words starting with a capital: every engine's collation orders them alike.
        const expected = [...catalog]
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id))
          .map((product) => product.id)
        expect(seen.map((product) => product.id)).toEqual(expected)
      })

      it('searches names case-insensitively and pages through the matches', async () => {
        const seen = await walk('q=OAK%20chair&limit=37')
        const expected = catalog.filter((product) =>
          product.name.toLowerCase().includes('oak chair'),
        )
        expect(expected.length).toBeGreaterThan(0)
        expect(seen.map((product) => product.id).sort((a, b) => a - b)).toEqual(
          expected.map((product) => product.id),
        )
      })

      it('searches names past ASCII alike on every engine: case folded, accents kept', async () => {
        // SQLite's lower() folds ASCII only ('ÉCLAIR' missed 'Éclair'), and MariaDB's collation
        // ignores accents ('eclair' found 'Éclair'): one search, three answers.
        const rows = [
          { id: 20_001, name: 'Éclair Stand', description: 'A stand.', price_cents: 900, stock: 1 },
          { id: 20_002, name: 'Big Ölkanne', description: 'A can.', price_cents: 900, stock: 1 },
        ]
        for (const row of rows) {
          await resolveDatabase<CatalogDb>(shop().app)
            .insertInto('products')
            .values({ ...row, search_name: searchName(row.name) })
            .execute()
        }
        const ids = async (q: string) =>
          ((await get(`/products?q=${encodeURIComponent(q)}`)).body as ProductPage).items.map(
            (product) => product.id,
          )
        expect(await ids('ÉCLAIR')).toEqual([20_001])
        expect(await ids('éclair st')).toEqual([20_001])
        expect(await ids('eclair')).toEqual([])
        expect(await ids('big öl')).toEqual([20_002])
        expect(await ids('BIG ÖLKANNE')).toEqual([20_002])
        expect(await ids('olkanne')).toEqual([])
      })

      it('treats % and _ in the search as plain characters', async () => {
        for (const q of ['%25', '_', '!']) {
          const { status, body } = await get(`/products?q=${q}`)
          expect(status).toBe(200)
          expect((body as ProductPage).items).toEqual([])
        }
      })

      it('refuses a page size over 100 or under 1 with a 422 problem', async () => {
        for (const limit of ['101', '0', 'ten']) {
          const { status, type, body } = await get(`/products?limit=${limit}`)
          expect(status).toBe(422)
          expect(type).toContain('application/problem+json')
          expect(body).toMatchObject({ code: 'E_VALIDATION' })
        }
      })

      it('refuses a forged or altered cursor with a 422 problem, never a 500', async () => {
        const first = (await get('/products')).body as ProductPage
        const bytes = Buffer.from(first.nextCursor ?? '', 'base64url')
        bytes[bytes.length - 2] = (bytes[bytes.length - 2] ?? 0) ^ 1
        for (const after of [bytes.toString('base64url'), 'garbage', '']) {
          const { status, body } = await get(`/products?after=${encodeURIComponent(after)}`)
          expect(status).toBe(422)
          expect(body).toMatchObject({
            code: 'E_VALIDATION',
            errors: [{ path: 'after', code: 'invalid_cursor' }],
          })
        }
      })

      it('shows one product by id', async () => {
        const { status, body } = await get('/products/1234')
        expect(status).toBe(200)
        const expected = catalog[1233]
        expect(body).toEqual({
          id: 1234,
          name: expected?.name,
          description: expected?.description,
          priceCents: expected?.price_cents,
          stock: expected?.stock,
        })
      })

      it('answers a missing or malformed product id with a 404 problem', async () => {
        for (const id of ['10001', 'abc', '-3']) {
          const { status, type, body } = await get(`/products/${id}`)
          expect(status).toBe(404)
          expect(type).toContain('application/problem+json')
          expect(body).toMatchObject({ status: 404, code: 'E_NOT_FOUND' })
        }
      })

      it('tells whether a product exists', async () => {
        const products = shop().app.resolve(PRODUCT_CATALOG)
        expect(await products.exists(undefined, 1)).toBe(true)
        expect(await products.exists(undefined, 10_001)).toBe(false)
      })
    },
  )
}
