export type { AdapterApp } from '../../app/app.js'
