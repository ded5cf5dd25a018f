/**
 * The flags every headless Chromium of this service starts with (the browser fetch rung, report PDFs,
 * and the tests' browser): no sandbox or GPU in a container, and none of Chromium's own traffic
 * (updates, sync, first-run pages, background fetches).
 */
export const HEADLESS_CHROMIUM_FLAGS: readonly string[] = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
])
