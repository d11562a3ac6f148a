// Type tests, checked by the root `npx tsc`: what must compile, and (`@ts-expect-error`) what must not.
import type { Kysely } from 'kysely'
import { paginate } from './paginate.js'
import type { Paginator } from './paginator.js'

interface Db {
  products: { id: number; name: string; price: number; description: string | null }
  tags: { slug: string; label: string }
}

declare const db: Kysely<Db>
declare const paginator: Paginator
const key = 'k'.repeat(32)

export async function accepted(): Promise<void> {
  const products = db.selectFrom('products').select(['id', 'name', 'price'])
  const page = await paginate(products, { orderBy: ['name'], limit: 20, key })
  const first: { id: number; name: string; price: number } | undefined = page.items[0]
  void first
  await paginator.paginate(products, {
    orderBy: [{ column: 'price', direction: 'desc' }, 'name', { column: 'id', direction: 'desc' }],
    after: null,
    limit: 20,
  })
  // An alias is sortable when `ref` names the column behind it.
  await paginator.paginate(db.selectFrom('products').select(['id', 'name as title']), {
    orderBy: [{ column: 'title', ref: 'products.name' }],
    limit: 20,
  })
  // A nullable column sorts when marked nullable (NULLs last ascending, first descending).
  await paginator.paginate(db.selectFrom('products').select(['id', 'description']), {
    orderBy: [{ column: 'description', direction: 'desc', nullable: true }],
    limit: 20,
  })
  // Without an `id`, a unique column is named explicitly.
  await paginator.paginate(db.selectFrom('tags').select(['slug', 'label']), {
    orderBy: ['label'],
    unique: 'slug',
    limit: 20,
  })
}

export async function rejected(): Promise<void> {
  const products = db.selectFrom('products').select(['id', 'name', 'price'])
  // @ts-expect-error a misspelled column does not compile
  await paginator.paginate(products, { orderBy: ['nmae'], limit: 20 })
  // @ts-expect-error a column of the table that the query does not select
  await paginator.paginate(products, { orderBy: [{ column: 'description' }], limit: 20 })
  await paginator.paginate(db.selectFrom('products').select(['id', 'description']), {
    // @ts-expect-error a nullable column cannot be a sort key
    orderBy: ['description'],
    limit: 20,
  })
  await paginator.paginate(db.selectFrom('products').select(['id', 'description']), {
    // @ts-expect-error a nullable column must be marked nullable
    orderBy: [{ column: 'description' }],
    limit: 20,
  })
  await paginator.paginate(db.selectFrom('products').select(['id', 'description']), {
    // @ts-expect-error marked nullable: false, it still may hold NULL
    orderBy: [{ column: 'description', nullable: false }],
    limit: 20,
  })
  await paginator.paginate(products, {
    // @ts-expect-error directions are 'asc' or 'desc'
    orderBy: [{ column: 'name', direction: 'up' }],
    limit: 20,
  })
  // @ts-expect-error a selection without `id` must name its unique column
  await paginator.paginate(db.selectFrom('tags').select(['slug', 'label']), {
    orderBy: ['label'],
    limit: 20,
  })
  // @ts-expect-error the function needs the signing key
  await paginate(products, { orderBy: ['name'], limit: 20 })
}
