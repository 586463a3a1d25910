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
 * Optional: commands this plugin adds to `vigil` when it is enabled in the config.
 * `vigil long-cmdline check "<command line>" [--max N]` says whether the analyzer would flag it.
 * @param {import('commander').Command} program
 * @param {import('vigil').CliHost} host
 */
export function cli(program, host) {
  program
    .command('long-cmdline')
    .description('tools of the long-cmdline example plugin')
    .command('check')
    .description('would this command line be flagged?')
    .argument('<cmdline>', 'a command line')
    .option('--max <n>', 'threshold in characters (default: the configured one)')
    .option('-c, --config <file>', 'config file')
    .action((cmdline, opts) => {
      const max = opts.max !== undefined ? Number(opts.max) : host.pluginConfig('long-cmdline', opts.config).config.max_cmdline_chars ?? 1024;
      const flagged = cmdline.length > max;
      process.stdout.write(`${flagged ? 'flagged' : 'not flagged'}: ${cmdline.length} characters, threshold ${max}\n`);
    });
}
