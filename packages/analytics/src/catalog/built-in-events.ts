import { z } from 'zod'

// Mortar's own events. Their names start with `$`, which catalogue names cannot.
const id = z.string().min(1).max(255)

/** The longest path, title and referrer a `$page` event holds; `page()` cuts what is longer. */
export const PAGE_TEXT_LIMITS = { path: 2_000, title: 500, referrer: 2_000 } as const

/** The schemas of the built-in events, validated like catalogue events. */
export const BUILT_IN_EVENTS = {
  /** A page view; its id is the event id, which heartbeats and page-leaves refer to. */
  $page: z.object({
    path: z.string().max(PAGE_TEXT_LIMITS.path),
    title: z.string().max(PAGE_TEXT_LIMITS.title).optional(),
    referrer: z.string().max(PAGE_TEXT_LIMITS.referrer).optional(),
  }),
  /** An identified user, with traits. */
  $identify: z.object({ traits: z.record(z.string(), z.unknown()).optional() }),
  /** Two ids known to be one person. */
  $alias: z.object({ previousId: id }),
  /** The page `pageViewId` was visible and used during the last heartbeat interval. */
  $heartbeat: z.object({ pageViewId: z.uuid(), seq: z.int().min(1).max(100_000) }),
  /** The visitor left the page `pageViewId`. */
  $page_leave: z.object({ pageViewId: z.uuid() }),
} as const

/** The names of the built-in events. */
export type BuiltInEventName = keyof typeof BUILT_IN_EVENTS
