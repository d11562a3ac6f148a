export { shopAccessModule } from './shop-access-module.js'
export {
  type AdminPagesResource,
  SHOP_ACCESS,
  type ShopAccessControl,
  type ShopAction,
  type ShopPolicy,
  type ShopPolicyDb,
  shopPolicy,
  shopPolicyRules,
} from './shop-policy.js'
