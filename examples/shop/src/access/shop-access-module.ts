import { accessControlModule } from '@mortar/auth'
import { databaseToken, type Module } from '@mortar/core'
import { SHOP_ACCESS, type ShopPolicy, type ShopPolicyDb, shopPolicy } from './shop-policy.js'

/**
 * The shop's policy (or `policy`, built from `shopPolicyRules` with more rules) as the app's
 * access control, under {@link SHOP_ACCESS}. Outside production
 * it also fails any request that read `orders` without asking the policy. Given the database,
 * its query filters are written for the app's engine, so a value compares in SQL as in `can()`.
 */
export function shopAccessModule(policy: ShopPolicy = shopPolicy): Module {
  return accessControlModule({
    policy,
    database: databaseToken<ShopPolicyDb>(),
    token: SHOP_ACCESS,
  })
}
