import { type AccessControl, definePolicy } from '@mortar/auth'
import { token } from '@mortar/core'
import type { ShopPrincipal } from '../accounts/index.js'
import type { CatalogDb } from '../catalog/catalog-db.js'
import type { OrdersDb } from '../orders/orders-db.js'

/**
 * The admin pages as a resource of the policy. It is no table and no row of it is ever
 * checked, so its rules are `true` or `false` and pages ask for the capability
 * (`can(principal, 'enter', 'admin_pages') === 'always'`), as CASL does with a subject name.
 */
export interface AdminPagesResource {
  admin_pages: { page: string }
}

/** What the policy speaks of: the products, the orders, and the admin pages. */
export type ShopPolicyDb = CatalogDb & Pick<OrdersDb, 'orders'> & AdminPagesResource

/**
 * What can be done: read a product or an order, move an order along (ship, deliver), enter the
 * admin pages.
 */
export type ShopAction = 'read' | 'ship' | 'enter'

/**
 * Every access rule of the shop, in one place, before `build()`: a shop built on this one adds
 * its rules here (or to a copy, as a test does). The rule that lets a customer read an order
 * also filters the order history in SQL, so a list never shows an order that a point check
 * refuses; another user's order answers 404, exactly like a missing one. A product the rules
 * hide is sold out in the cart and at checkout, which read products through them.
 */
export const shopPolicyRules = definePolicy<ShopPolicyDb, ShopPrincipal, ShopAction>()
  // The catalog is public, visitors included; stated here, since anything unstated is denied.
  .allow('read', 'products', true, { id: 'anyone-reads-products' })
  .role('customer', (r) =>
    r.allow('read', 'orders', (o, p) => o.eq('user_id', p.id), {
      id: 'customer-reads-own-orders',
    }),
  )
  .role('admin', { inherits: ['customer'] }, (r) =>
    r
      .allow('read', 'orders', true, { id: 'admin-reads-every-order' })
      .allow('ship', 'orders', (o) => o.in('status', ['placed', 'shipped']), {
        id: 'admin-moves-open-orders',
      })
      .allow('enter', 'admin_pages', true, { id: 'admin-enters-admin-pages' }),
  )
  .hideExistence('orders', ['read'])
  .hideExistence('products', ['read'])

/** The shop's policy: {@link shopPolicyRules}, built. */
export const shopPolicy = shopPolicyRules.build()

/** A policy over the shop's resources, principals and actions, such as {@link shopPolicy}. */
export type ShopPolicy = typeof shopPolicy

/** An access control over {@link shopPolicy}. */
export type ShopAccessControl = AccessControl<ShopPolicyDb, ShopPrincipal, ShopAction>

/** The shop's access control over {@link shopPolicy}. */
export const SHOP_ACCESS = token<ShopAccessControl>('shop.access')
