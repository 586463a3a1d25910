import semver from 'semver';
import { VigilError } from '../errors/index.js';
import { schemaCompileError, validateWithSchema } from '../config/validate.js';
import { isKnownEventType } from '../events/event-types.js';
import { checkServices } from './services.js';
import { PLUGIN_API_VERSION, type JsonSchema, type PluginManifest, type VigilPlugin } from './types.js';

const MANIFEST_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['id', 'kind', 'apiVersion', 'version', 'description', 'platforms', 'produces', 'consumes', 'configSchema'],
  properties: {
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' },
    kind: { enum: ['sensor', 'analyzer', 'responder'] },
    apiVersion: { type: 'string', minLength: 5 },
    version: { type: 'string', minLength: 5 },
    description: { type: 'string', minLength: 1 },
    platforms: { type: 'array', minItems: 1, items: { enum: ['win32', 'linux', 'darwin', 'any'] } },
    produces: { type: 'array', items: { type: 'string' } },
    consumes: { type: 'array', items: { type: 'string' } },
    actions: { type: 'array', items: { type: 'string', pattern: '^[a-z][a-z0-9_-]*$' } },
    exclusive: { type: 'array', items: { type: 'string', minLength: 1 } },
    delivery: { enum: ['live', 'replay'] },
    // Names are checked apart (checkServices) so that an unknown one gets its own code.
    services: { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1 } },
    configSchema: { type: 'object' },
  },
};

/** Every problem with a manifest, as `field: problem` lines (empty when valid). */
export function manifestProblems(m: unknown): string[] {
  // ajv with useDefaults mutates: validate a copy, never the plugin's own manifest object.
  let copy: unknown;
  try {
    copy = JSON.parse(JSON.stringify(m ?? null)) as unknown;
  } catch (err) {
    return [`/: a manifest is plain JSON data (${err instanceof Error ? err.message : String(err)})`];
  }
  const problems = validateWithSchema(MANIFEST_SCHEMA, copy).map(
    (f) => `${f.path || '/'}: expected ${f.expected}, found ${f.found}`,
  );
  if (problems.length > 0) return problems;
  const man = m as PluginManifest;
  if (!semver.valid(man.apiVersion)) problems.push(`/apiVersion: not a semver version: ${man.apiVersion}`);
  if (!semver.valid(man.version)) problems.push(`/version: not a semver version: ${man.version}`);
  for (const t of man.produces) if (!isKnownEventType(t)) problems.push(`/produces: unknown event type "${t}"`);
  for (const t of man.consumes) {
    if (t !== '*' && t !== 'detection' && !isKnownEventType(t)) problems.push(`/consumes: unknown event type "${t}"`);
  }
  if (man.kind === 'sensor' && man.produces.length === 0) problems.push('/produces: a sensor must declare what it emits');
  if (man.kind === 'sensor' && man.consumes.length > 0) problems.push('/consumes: a sensor consumes nothing');
  if (man.kind === 'sensor' && man.delivery === undefined) problems.push("/delivery: a sensor must say 'live' or 'replay'");
  if (man.kind !== 'sensor' && man.delivery !== undefined) problems.push('/delivery: only sensors have a delivery mode');
  const schemaError = schemaCompileError(man.configSchema);
  if (schemaError) problems.push(`/configSchema: not a valid JSON Schema: ${schemaError}`);
  else if ((man.configSchema as { type?: unknown }).type !== 'object') problems.push("/configSchema: type must be 'object'");
  return problems;
}

/**
 * Validate a plugin module's export: a manifest plus a create function, a compatible API
 * version, and services the core offers.
 */
export function checkPlugin(mod: unknown, where: string): VigilPlugin {
  const p = mod as Partial<VigilPlugin> | undefined;
  const problems = p && typeof p === 'object' ? manifestProblems(p.manifest) : ['module exports no plugin'];
  if (p && typeof p.create !== 'function') problems.push('/create: must be a function');
  if (problems.length > 0) {
    throw new VigilError('VIGIL_ERR_PLUGIN_MANIFEST', `invalid plugin at ${where}:\n  ${problems.join('\n  ')}`, {
      details: { where, problems },
    });
  }
  checkApiVersion(p as VigilPlugin, where);
  checkServices((p as VigilPlugin).manifest);
  return p as VigilPlugin;
}

/** Majors must match; the core's minor must be >= the plugin's. */
export function checkApiVersion(p: VigilPlugin, where: string, core = PLUGIN_API_VERSION): void {
  const want = semver.parse(p.manifest.apiVersion);
  const have = semver.parse(core);
  if (!want || !have || want.major !== have.major || have.minor < want.minor) {
    throw new VigilError(
      'VIGIL_ERR_PLUGIN_API_VERSION',
      `plugin ${p.manifest.id} (${where}) needs plugin API ${p.manifest.apiVersion}; this core implements ${core}`,
      { details: { plugin: p.manifest.id, wanted: p.manifest.apiVersion, core } },
    );
  }
}

/** True when the plugin runs on this platform. */
export function runsOn(m: PluginManifest, platform: string = process.platform): boolean {
  return m.platforms.includes('any') || (m.platforms as readonly string[]).includes(platform);
}
