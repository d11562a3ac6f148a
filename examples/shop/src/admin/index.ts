export { adminGuard, mayEnterAdmin, requireAdmin } from './admin-guard.js'
export { type AdminLink, type AdminPagesOptions, adminPages } from './admin-pages.js'
