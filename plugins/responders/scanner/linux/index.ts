/**
 * The Linux memory-region scanner as a library (used by the scanner responder's worker task
 * and by `vigil scan --pid`): `scanLinuxProcess(pid, options) → ScanInfo`, and the pure
 * /proc/<pid>/maps parser it is built on.
 */
export { scanLinuxProcess, jitAllowed, DEFAULT_JIT_ALLOW, SCANNER_NAME, REASON_EXITED, REASON_IDENTITY, type LinuxScanOptions } from './scan.js';
export { parseMaps, parseMapsLine, lineKinds, livePath, type MapsRegion, type MapsBacking, type RegionKind } from './maps.js';
export { MEMSCAN_ERRORS, MemscanError, type MemscanErrorCode } from './errors.js';
