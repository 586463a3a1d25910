// The rooms of the tree as a lint rule (docs/architecture.md, "Rooms and layers"). A relative
// import is resolved against the importing file, so a plugin reaching into a sibling plugin is
// seen whatever the number of `../`; static, dynamic (with a string), re-export and type-only
// imports are all checked.
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The core's public modules (extension left off): what plugins and lib/ may import of the core. */
export const SDK_MODULES = ['core/index'];

/** The lib/ rooms, lowest first: a room imports only rooms before it in this list. */
export const LIB_LAYERS = ['files', 'procfs', 'yara', 'evtx', 'windows', 'rules', 'sigma'];

/** Where a file sits: its top folder, the plugin folder or lib room, whether it is a test. */
function placeOf(abs) {
  const rel = relative(ROOT, abs).split(sep).join('/');
  if (rel.startsWith('../') || rel === '..') return undefined;
  const parts = rel.split('/');
  const top = parts[0] === 'driver' && parts[1] === 'ffi' ? 'driver/ffi' : parts[0];
  let room;
  if (top === 'plugins' && parts.length > 3) room = parts.slice(0, 3).join('/');
  else if (top === 'lib' && parts.length > 2) room = parts[1];
  const test = /(^|\/)test\//.test(rel) || /\.test\.[cm]?[jt]s$/.test(rel);
  return { rel, module: rel.replace(/\.(?:[cm]?[jt]s|json)$/, ''), top, room, test };
}

/** Why `from` may not import `to`, or undefined when it may. */
function refusal(from, to) {
  const sdk = to.top === 'core' && SDK_MODULES.includes(to.module);
  // Every room's tests may use the vigil/testing kit, which builds contexts as the kernel does.
  if (from.test && to.top === 'testing') return undefined;
  switch (from.top) {
    case 'plugins':
      if (to.top === 'plugins') return to.room === from.room ? undefined : 'pluginImportsPlugin';
      if (to.top === 'core') return sdk ? undefined : 'pluginImportsCore';
      if (to.top === 'lib' || to.top === 'driver' || to.top === 'driver/ffi') return undefined;
      // A plugin's own tests may use the shared test support and drive the commands it adds.
      if (from.test && (to.top === 'test' || to.top === 'cli')) return undefined;
      return 'pluginImportsOther';
    case 'lib':
      if (to.top === 'plugins') return 'libImportsPlugin';
      if (to.top === 'core') return sdk ? undefined : 'libImportsCore';
      if (to.top === 'lib') {
        if (to.room === from.room) return undefined;
        const a = LIB_LAYERS.indexOf(from.room);
        const b = LIB_LAYERS.indexOf(to.room);
        if (a < 0 || b < 0) return 'libRoomUnknown';
        return b < a ? undefined : 'libImportsHigher';
      }
      if (from.test && to.top === 'test') return undefined;
      return 'libImportsOther';
    case 'core':
      // The core's own tests may use the shared test support, nothing else above the core.
      if (from.test && to.top === 'test') return undefined;
      return ['plugins', 'lib', 'cli', 'test', 'bench'].includes(to.top) ? 'coreImportsAbove' : undefined;
    case 'cli':
      return to.top === 'plugins' ? 'cliImportsPlugin' : undefined;
    case 'testing':
      if (from.test && to.top === 'test') return undefined;
      return ['plugins', 'cli', 'test', 'bench'].includes(to.top) ? 'testingImportsAbove' : undefined;
    default:
      return undefined;
  }
}

/** @type {import('eslint').Rule.RuleModule} */
export const roomsRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Which folder of Vigil may import which (plugins, lib, core, cli)' },
    schema: [],
    messages: {
      pluginImportsPlugin: '{{from}} imports {{to}}: a plugin never imports another plugin (share code through lib/, data through the bus).',
      pluginImportsCore: '{{from}} imports {{to}}: plugins import the core only through its SDK (core/index.js).',
      pluginImportsOther: '{{from}} imports {{to}}: plugin code imports only its own files, the SDK, lib/ and driver/.',
      libImportsPlugin: '{{from}} imports {{to}}: lib/ never imports plugins/ (libraries serve plugins, not the reverse).',
      libImportsCore: '{{from}} imports {{to}}: lib/ imports the core only through its SDK (core/index.js).',
      libImportsHigher: '{{from}} imports {{to}}: a lib/ room imports only lower rooms ({{layers}}, lowest first).',
      libRoomUnknown: '{{from}} imports {{to}}: every lib/ room takes a place in LIB_LAYERS (scripts/eslint-rooms.js).',
      libImportsOther: '{{from}} imports {{to}}: lib/ imports only the SDK and lower lib/ rooms.',
      coreImportsAbove: '{{from}} imports {{to}}: the core knows no plugin, library, command, test or benchmark.',
      testingImportsAbove: '{{from}} imports {{to}}: the testing kit is built from the core and lib/ only, so that every plugin can use it.',
      cliImportsPlugin: '{{from}} imports {{to}}: the CLI reaches plugins only through the plugin loader, so that a command imports a plugin only when it needs it.',
    },
  },
  create(context) {
    const from = placeOf(context.filename);
    if (from === undefined) return {};
    const check = (node, source) => {
      if (typeof source !== 'string' || !(source.startsWith('.') || source.startsWith('/'))) return;
      const to = placeOf(resolve(dirname(context.filename), source));
      if (to === undefined) return;
      const messageId = refusal(from, to);
      if (messageId !== undefined) context.report({ node, messageId, data: { from: from.rel, to: to.rel, layers: LIB_LAYERS.join(' ← ') } });
    };
    const fromSource = (node) => {
      if (node.source && node.source.type === 'Literal') check(node.source, node.source.value);
    };
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: fromSource,
      TSImportType(node) {
        const lit = node.argument && node.argument.type === 'TSLiteralType' ? node.argument.literal : undefined;
        if (lit && lit.type === 'Literal') check(node.argument, lit.value);
      },
    };
  },
};
