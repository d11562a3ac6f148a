export { uuidV7, uuidV7Time } from './uuid-v7.js'
