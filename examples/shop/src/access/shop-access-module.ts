import { accessControlModule } from '@mortar/auth'
import type { Module } from '@mortar/core'
import { SHOP_ACCESS, shopPolicy } from './shop-policy.js'

/**
 * The shop's policy as the app's access control, under {@link SHOP_ACCESS}. Outside production
 * it also fails any request that read `orders` without asking the policy.
 */
export function shopAccessModule(): Module {
  return accessControlModule({ policy: shopPolicy, token: SHOP_ACCESS })
}
