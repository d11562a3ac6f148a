/** The storefront's stylesheet, served at `/store/assets/shop.css`. Plain CSS, no build step. */
export const STOREFRONT_CSS = `
:root { --ink: #1d2330; --muted: #5f6b7a; --line: #e3e7ed; --accent: #2f5bea; --warn: #b42318;
  --ok: #067647; --paper: #fff; --bg: #f6f7f9; font-family: system-ui, sans-serif; color: var(--ink); }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header { background: var(--paper); border-bottom: 1px solid var(--line); }
header nav { max-width: 64rem; margin: 0 auto; padding: .75rem 1rem; display: flex; gap: 1rem;
  align-items: center; flex-wrap: wrap; }
header .brand { font-weight: 700; font-size: 1.1rem; margin-right: auto; color: var(--ink); }
header form { display: inline; margin: 0; }
.badge { display: inline-block; min-width: 1.4em; padding: 0 .4em; border-radius: 1em;
  background: var(--accent); color: #fff; font-size: .8em; text-align: center; }
main { max-width: 64rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
.notice, .alert { padding: .6rem .9rem; border-radius: .4rem; margin-bottom: 1rem; }
.notice { background: #ecfdf3; color: var(--ok); }
.alert { background: #fef3f2; color: var(--warn); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: .75rem;
  list-style: none; padding: 0; }
.card { background: var(--paper); border: 1px solid var(--line); border-radius: .5rem; padding: .9rem; }
.card h2 { font-size: 1rem; margin: 0 0 .4rem; }
.price { font-weight: 600; }
.muted { color: var(--muted); font-size: .9em; }
.sold-out { color: var(--warn); }
table { width: 100%; border-collapse: collapse; background: var(--paper); }
th, td { text-align: left; padding: .5rem; border-bottom: 1px solid var(--line); }
form.stack { display: grid; gap: .6rem; max-width: 24rem; }
label { display: grid; gap: .2rem; }
input, select, button { font: inherit; padding: .4rem .6rem; border: 1px solid var(--line);
  border-radius: .35rem; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.link { background: none; border: none; color: var(--accent); padding: 0; }
.row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
.pager { margin-top: 1rem; }
.unread { font-weight: 600; }
`
