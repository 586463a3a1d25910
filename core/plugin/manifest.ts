import semver from 'semver';
import { VigilError } from '../errors/index.js';
import { schemaCompileError, validateWithSchema } from '../config/validate.js';
import { isKnownEventType } from '../events/event-types.js';
import { checkServices } from './services.js';
import { PLUGIN_API_VERSION, type JsonSchema, type PluginCommand, type PluginManifest, type VigilPlugin } from './types.js';

const COMMAND_NAME = '^[a-z][a-z0-9-]*$';
const TEXT = { type: 'string', minLength: 1 };
const CONFIG_KEY = { type: 'string', minLength: 1 };

const COMMAND_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description'],
  properties: {
    name: { type: 'string', pattern: COMMAND_NAME },
    description: TEXT,
    arguments: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'description'],
        properties: { name: { type: 'string', pattern: '^[a-z][a-zA-Z0-9_-]*$' }, description: TEXT, required: { type: 'boolean' }, variadic: { type: 'boolean' } },
      },
    },
    options: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'description'],
        properties: {
          name: { type: 'string', pattern: COMMAND_NAME },
          short: { type: 'string', pattern: '^[a-zA-Z]$' },
          description: TEXT,
          value: { type: 'string', pattern: COMMAND_NAME },
          choices: { type: 'array', minItems: 1, items: TEXT },
        },
      },
    },
    subcommands: { type: 'array', minItems: 1, items: { $ref: '#/definitions/command' } },
  },
};

const MANIFEST_SCHEMA: JsonSchema = {
  type: 'object',
  definitions: { command: COMMAND_SCHEMA },
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
    readOnlyActions: { type: 'array', uniqueItems: true, items: { type: 'string', pattern: '^[a-z][a-z0-9_-]*$' } },
    exclusive: { type: 'array', items: { type: 'string', minLength: 1 } },
    delivery: { enum: ['live', 'replay'] },
    // Names are checked apart (checkServices) so that an unknown one gets its own code.
    services: { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1 } },
    configSchema: { type: 'object' },
    commands: { type: 'array', items: { $ref: '#/definitions/command' } },
    ruleKinds: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[a-z][a-z0-9_-]*$' } },
    replay: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: { pathsKey: CONFIG_KEY, mergeByTimeKey: CONFIG_KEY, sigmaPathsKey: CONFIG_KEY, streamKey: CONFIG_KEY },
    },
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
  if ((man.actions ?? []).includes('playbook')) problems.push('/actions: "playbook" is the core\'s (response.playbooks); a responder cannot perform it');
  for (const a of man.readOnlyActions ?? []) {
    if (a === 'alert' || a === 'playbook') problems.push(`/readOnlyActions: "${a}" is not a responder's action to declare read-only`);
    else if (!(man.actions ?? []).includes(a)) problems.push(`/readOnlyActions: "${a}" is not among the manifest's actions (declare it in actions too)`);
  }
  const schemaError = schemaCompileError(man.configSchema);
  if (schemaError) problems.push(`/configSchema: not a valid JSON Schema: ${schemaError}`);
  else if ((man.configSchema as { type?: unknown }).type !== 'object') problems.push("/configSchema: type must be 'object'");
  problems.push(...capabilityProblems(man));
  return problems;
}

/** Options every command that runs a handler gets from the CLI. */
const RESERVED_OPTIONS = new Set(['config', 'help']);
const RESERVED_SHORTS = new Set(['c', 'h']);

function commandProblems(list: readonly PluginCommand[], at: string, problems: string[]): void {
  const names = new Set<string>();
  list.forEach((c, i) => {
    const here = `${at}/${i}`;
    if (names.has(c.name)) problems.push(`${here}/name: a second command "${c.name}" at this level`);
    names.add(c.name);
    if (c.subcommands !== undefined) {
      if (c.arguments !== undefined || c.options !== undefined) problems.push(`${here}: a command with subcommands takes no arguments or options (its subcommands do)`);
      commandProblems(c.subcommands, `${here}/subcommands`, problems);
      return;
    }
    const args = c.arguments ?? [];
    const argNames = new Set<string>();
    let optional = false;
    args.forEach((a, j) => {
      if (argNames.has(a.name)) problems.push(`${here}/arguments/${j}/name: a second argument "${a.name}"`);
      argNames.add(a.name);
      if (a.variadic === true && j !== args.length - 1) problems.push(`${here}/arguments/${j}/variadic: only the last argument may be variadic`);
      if (a.required === false) optional = true;
      else if (optional) problems.push(`${here}/arguments/${j}/required: a required argument cannot follow an optional one`);
    });
    const optNames = new Set<string>();
    const shorts = new Set<string>();
    (c.options ?? []).forEach((o, j) => {
      const p = `${here}/options/${j}`;
      if (RESERVED_OPTIONS.has(o.name)) problems.push(`${p}/name: --${o.name} is the CLI's own option`);
      else if (optNames.has(o.name)) problems.push(`${p}/name: a second option "--${o.name}"`);
      optNames.add(o.name);
      if (o.short !== undefined) {
        if (RESERVED_SHORTS.has(o.short)) problems.push(`${p}/short: -${o.short} is the CLI's own option`);
        else if (shorts.has(o.short)) problems.push(`${p}/short: a second option "-${o.short}"`);
        shorts.add(o.short);
      }
      if (o.choices !== undefined && o.value === undefined) problems.push(`${p}/choices: a flag has no values to choose from (add "value")`);
    });
  });
}

/** The schema of config key `key`, when the config schema lists it under `properties`. */
function configProperty(m: PluginManifest, key: string): Record<string, unknown> | undefined {
  const props = (m.configSchema as { properties?: Record<string, unknown> }).properties;
  const p = props?.[key];
  return p !== null && typeof p === 'object' ? (p as Record<string, unknown>) : undefined;
}

function replayProblems(m: PluginManifest, problems: string[]): void {
  const r = m.replay;
  if (r === undefined) return;
  const key = (field: keyof NonNullable<PluginManifest['replay']>, kinds: readonly string[], accepts: (p: Record<string, unknown>) => boolean, what: string): void => {
    const name = r[field];
    if (name === undefined) return;
    if (!kinds.includes(m.kind)) {
      problems.push(`/replay/${field}: only for ${kinds.join(' and ')}s, this is a ${m.kind}`);
      return;
    }
    const prop = configProperty(m, name);
    if (prop === undefined) problems.push(`/replay/${field}: the config schema has no property "${name}"`);
    else if (!accepts(prop)) problems.push(`/replay/${field}: config property "${name}" must be ${what}`);
  };
  key('pathsKey', ['sensor'], (p) => p['type'] === 'array', 'an array (of paths)');
  key('mergeByTimeKey', ['sensor'], (p) => p['type'] === 'boolean', 'a boolean');
  key('sigmaPathsKey', ['analyzer'], (p) => p['type'] === 'array', 'an array (of paths)');
  key('streamKey', ['responder'], (p) => Array.isArray(p['enum']) && p['enum'].includes('stderr'), "a choice that includes 'stderr'");
  if ((r.pathsKey !== undefined || r.mergeByTimeKey !== undefined) && m.kind === 'sensor' && m.delivery !== 'replay') {
    problems.push("/replay: a sensor that replays recordings has delivery 'replay'");
  }
  if (r.mergeByTimeKey !== undefined && r.pathsKey === undefined) problems.push('/replay/mergeByTimeKey: needs pathsKey');
}

/** Problems with the declared capabilities: commands, rule kinds, replay. */
function capabilityProblems(m: PluginManifest): string[] {
  const problems: string[] = [];
  if (m.commands !== undefined) commandProblems(m.commands, '/commands', problems);
  if (m.ruleKinds !== undefined && m.kind !== 'analyzer') problems.push('/ruleKinds: only analyzers own rule kinds');
  replayProblems(m, problems);
  return problems;
}

/** The path (`long-cmdline check`) of every declared command that runs a handler. */
export function commandPaths(commands: readonly PluginCommand[] = [], prefix = ''): string[] {
  return commands.flatMap((c) => {
    const path = `${prefix}${c.name}`;
    return c.subcommands !== undefined ? commandPaths(c.subcommands, `${path} `) : [path];
  });
}

function isFunction(v: unknown): boolean {
  return typeof v === 'function';
}

/**
 * What the module must export for its declared capabilities: a `commands` handler for every
 * declared command (and none undeclared), a `ruleTooling` for the declared `ruleKinds`.
 */
export function moduleExportProblems(m: PluginManifest, mod: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  const handlers = mod['commands'];
  const paths = commandPaths(m.commands);
  if (handlers !== undefined && (handlers === null || typeof handlers !== 'object')) {
    problems.push('export commands: must be an object of handlers by command path');
  } else {
    const h = (handlers ?? {}) as Record<string, unknown>;
    for (const p of paths) if (!isFunction(h[p])) problems.push(`export commands: no handler function "${p}" for the declared command \`vigil ${p}\``);
    for (const k of Object.keys(h)) if (!paths.includes(k)) problems.push(`export commands: "${k}" is not a command the manifest declares`);
  }
  const tooling = mod['ruleTooling'] as Record<string, unknown> | null | undefined;
  if (m.ruleKinds === undefined) {
    if (tooling !== undefined) problems.push('export ruleTooling: the manifest declares no ruleKinds');
  } else if (tooling === null || typeof tooling !== 'object') {
    problems.push(`export ruleTooling: missing, but the manifest declares ruleKinds ${m.ruleKinds.join(', ')}`);
  } else {
    if (tooling['name'] !== m.id) problems.push(`export ruleTooling: name must be the plugin id "${m.id}"`);
    const kinds = Array.isArray(tooling['kinds']) ? (tooling['kinds'] as unknown[]) : [];
    if (kinds.length !== m.ruleKinds.length || !m.ruleKinds.every((k) => kinds.includes(k))) {
      problems.push(`export ruleTooling: kinds ${JSON.stringify(tooling['kinds'])} differ from the manifest's ruleKinds ${JSON.stringify(m.ruleKinds)}`);
    }
    for (const fn of ['lint', 'test']) if (!isFunction(tooling[fn])) problems.push(`export ruleTooling: ${fn} must be a function`);
    if (tooling['explain'] !== undefined && !isFunction(tooling['explain'])) problems.push('export ruleTooling: explain must be a function when given');
  }
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
export function checkApiVersion(p: { readonly manifest: PluginManifest }, where: string, core = PLUGIN_API_VERSION): void {
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

/** Validate a manifest read on its own (a built-in's `manifest.js`). */
export function checkManifest(m: unknown, where: string): PluginManifest {
  const problems = manifestProblems(m);
  if (problems.length > 0) {
    throw new VigilError('VIGIL_ERR_PLUGIN_MANIFEST', `invalid plugin manifest at ${where}:\n  ${problems.join('\n  ')}`, {
      details: { where, problems },
    });
  }
  const manifest = m as PluginManifest;
  checkApiVersion({ manifest }, where);
  checkServices(manifest);
  return manifest;
}

/** True when the plugin runs on this platform. */
export function runsOn(m: PluginManifest, platform: string = process.platform): boolean {
  return m.platforms.includes('any') || (m.platforms as readonly string[]).includes(platform);
}
