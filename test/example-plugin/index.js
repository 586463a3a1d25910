// An example third-party Vigil plugin, written the way an outside author would: plain ESM,
// no build step, loaded by Vigil from its folder (config: plugins.long-cmdline.path).
// It flags process starts whose command line is longer than a configured number of
// characters — a common trait of encoded PowerShell and packed one-liners.

/** @type {import('vigil').AnalyzerPlugin<{ max_cmdline_chars: number; severity: string; ignore_images: string[] }>} */
export const plugin = {
  manifest: {
    id: 'long-cmdline',
    kind: 'analyzer',
    apiVersion: '2.0.0',
    version: '1.0.0',
    description: 'Flags process starts with unusually long command lines',
    platforms: ['any'],
    produces: [],
    consumes: ['process.start'],
    configSchema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_cmdline_chars: { type: 'integer', minimum: 16, default: 1024 },
        severity: { enum: ['informational', 'low', 'medium', 'high', 'critical'], default: 'low' },
        ignore_images: { type: 'array', items: { type: 'string' }, default: [] },
      },
    },
    // Optional: commands this plugin adds to `vigil` when it is enabled in the config, as
    // data; `vigil` imports this module only when one of them is typed.
    commands: [
      {
        name: 'long-cmdline',
        description: 'tools of the long-cmdline example plugin',
        subcommands: [
          {
            name: 'check',
            description: 'would this command line be flagged?',
            arguments: [{ name: 'cmdline', description: 'a command line' }],
            options: [{ name: 'max', value: 'n', description: 'threshold in characters (default: the configured one)' }],
          },
        ],
      },
    ],
  },

  // create() does no I/O: it only prepares closures over the validated config.
  create(ctx) {
    const ignore = new Set(ctx.config.ignore_images.map((s) => s.toLowerCase()));
    let running = false;
    return {
      async start() {
        running = true;
      },
      async stop() {
        running = false;
      },
      onEvents(batch) {
        if (!running) return;
        for (const event of batch) {
          const cmd = event.proc?.cmdline;
          if (typeof cmd !== 'string' || cmd.length <= ctx.config.max_cmdline_chars) continue;
          if (ignore.has((event.proc?.image ?? '').toLowerCase())) {
            ctx.counters.discard('ignored_image', 1, true);
            continue;
          }
          ctx.detect({
            rule: { id: 'example.long_cmdline', title: 'Unusually long command line', version: '1', source: 'native' },
            severity: ctx.config.severity,
            tags: ['attack.execution', 'attack.t1059'],
            evidence: [event],
            matched: [{ path: '/max_cmdline_chars', field: 'proc.cmdline', op: 'gt', value: cmd.length }],
          });
        }
      },
    };
  },
};

/**
 * The handlers of the declared commands, by command path.
 * `vigil long-cmdline check "<command line>" [--max N]` says whether the analyzer would flag it.
 * @type {import('vigil').CommandHandlers}
 */
export const commands = {
  'long-cmdline check'({ args, options }, host) {
    const max = options.max !== undefined ? Number(options.max) : host.pluginConfig().config.max_cmdline_chars;
    if (!Number.isInteger(max) || max < 1) throw host.usageError(`--max takes a positive whole number of characters, not ${options.max}`);
    const cmdline = String(args.cmdline);
    host.out(`${cmdline.length > max ? 'flagged' : 'not flagged'}: ${cmdline.length} characters, threshold ${max}\n`);
  },
};
