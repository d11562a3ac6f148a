export type {
  Page,
  PageRequest,
  NullableColumn,
  PaginateOptions,
  SortableColumn,
  SortDirection,
  SortKey,
  UniqueKeyOption,
} from './paginate.js'
export { paginate } from './paginate.js'
export type { PaginationKey, PaginationKeys } from './pagination-key.js'
export type { PaginatorOptions } from './paginator.js'
export { PAGINATOR, Paginator } from './paginator.js'
