export { shopAccessModule } from './shop-access-module.js'
export {
  type AdminPagesResource,
  SHOP_ACCESS,
  type ShopAccessControl,
  type ShopAction,
  type ShopPolicyDb,
  shopPolicy,
} from './shop-policy.js'
