import { CLOCK, DATABASE, defineModule } from '@mortar/core'
import { INBOX } from '../channels/inbox/inbox-channel.js'
import {
  addInboxVersions,
  createInboxTable,
  Inbox,
  indexInboxVersions,
} from '../channels/inbox/inbox-store.js'

/** The inbox alone, migrated as notify's module migrates it: one place to add a migration. */
export const inboxTestModule = defineModule({
  name: 'inbox-test',
  register(binder) {
    binder.bind(INBOX, {
      inject: [DATABASE, CLOCK],
      useFactory: (database, clock) => new Inbox(database, clock),
    })
  },
  migrations: {
    '0001_inbox': createInboxTable,
    '0002_inbox_versions': addInboxVersions,
    '0003_inbox_version_index': indexInboxVersions,
  },
})
