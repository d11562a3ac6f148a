import * as vitest from 'vitest'
import { Database } from '../../persistence/database/index.js'
import { queueConformance } from '../../testing/index.js'
import { InlineQueue } from './inline-queue.js'

// One SQLite database only to open transactions in: the inline queue itself keeps no rows there.
const database = new Database('sqlite::memory:')

queueConformance(vitest, 'InlineQueue', () => ({
  adapter: new InlineQueue(),
  inProcess: true,
  transaction: (fn) => database.transaction(fn),
}))
