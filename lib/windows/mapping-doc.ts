/**
 * Renders docs/windows-mapping.md from the tables in field-map.ts, so that the document
 * and the normalizer cannot drift apart (a test compares them).
 * Regenerate with: node --import tsx lib/windows/write-mapping-doc.ts
 */
import { parseFieldSpec, SYSMON_CHANNEL, SYSMON_EVENTS, WINDOWS_EVENTS, type ChannelEventMap } from './field-map.js';

const KIND_NOTE: Readonly<Record<string, string>> = {
  str: 'text',
  int: 'integer',
  hex: 'number (from `0x…` hex or decimal)',
  bool: 'boolean (`true`/`false`)',
  time: 'ms since the epoch (from UTC `YYYY-MM-DD hh:mm:ss.sss`)',
  hashes: '`{ sha1, md5, sha256, imphash }` (keys lower case)',
};

/** One table row per mapping, as it appears in the document. */
export function mappingRow(field: string, spec: string): string {
  const { path, kind } = parseFieldSpec(spec);
  return `| \`${field}\` | \`${path}\` | ${KIND_NOTE[kind] ?? kind} |`;
}

function section(heading: string, m: ChannelEventMap, extra: string[]): string[] {
  const lines = [`### ${heading} — ${m.title}`, '', `Type: \`${m.type}\``, ...extra, ''];
  const entries = Object.entries(m.fields);
  if (entries.length === 0) {
    lines.push('No dedicated fields: all EventData fields are under `raw.*`.', '');
    return lines;
  }
  lines.push('| Source field | Vigil field | Converted to |', '|---|---|---|');
  for (const [f, s] of entries) lines.push(mappingRow(f, s));
  lines.push('');
  return lines;
}

/** The full Markdown text of docs/windows-mapping.md. */
export function renderWindowsMappingDoc(): string {
  const lines: string[] = [
    '# Windows event mapping',
    '',
    '<!-- Generated from lib/windows/field-map.ts by',
    '     `node --import tsx lib/windows/write-mapping-doc.ts`. Do not edit by hand:',
    '     a test fails when this file and the table disagree. -->',
    '',
    'How Windows events (Sysmon, Security, System, PowerShell) become Vigil events. The same',
    'table drives the Windows sensors, the replay sensor (.evtx, JSONL, XML) and the Sigma',
    'importer.',
    '',
    '## Rules that apply to every event',
    '',
    '* **Which table.** Events whose channel is `' + SYSMON_CHANNEL + '` (or whose provider is',
    '  `Microsoft-Windows-Sysmon`) use the Sysmon table by event ID. Other events use the',
    '  Windows table when both the event ID and the channel match (an event without a channel',
    '  matches by ID alone). Everything else becomes `windows.event` with only `raw.*`,',
    '  `time` and `host.name`.',
    '* **Time.** Sysmon `UtcTime` when present and readable, else System `TimeCreated`, in ms',
    '  since the Unix epoch (fractions of a millisecond kept).',
    '* **Host.** `host.name` is the System `Computer`.',
    '* **raw.\\*.** Every EventData (or UserData) field unchanged, plus the System fields',
    '  flattened: `EventID`, `Channel`, `Provider_Name`, `Provider_Guid`, `Computer`,',
    '  `EventRecordID`, `Version`, `Level`, `Task`, `Opcode`, `Keywords`, `EventID_Qualifiers`,',
    '  `TimeCreated` (ms), `Execution_ProcessID`, `Execution_ThreadID`, `Security_UserID`,',
    '  `Correlation_ActivityID`. Imported Sigma rules match these names. Where an EventData',
    '  field has the same name as a System field, the EventData value is kept, except for',
    '  `EventID`, `Channel`, `Provider_Name` and `Computer`, which always come from System.',
    '* **Names.** `proc.name`, `parent.name`, `target.name` are the file names of the',
    '  respective `image`; `file.name` is the file name of `file.path`.',
    '* **Process start.** `proc.ppid` and `proc.parent_guid` repeat `parent.pid` and',
    '  `parent.guid`.',
    '* **Sysmon 12.** `EventType` `DeleteKey` or `DeleteValue` gives `registry.delete`;',
    '  otherwise `registry.create`.',
    '* **Unreadable values.** A value that cannot be converted to its kind (a non-numeric',
    '  pid, a malformed time) is left out of the Vigil field and stays in `raw.*` only.',
    '',
    '## Sysmon (`' + SYSMON_CHANNEL + '`)',
    '',
  ];
  for (const [id, m] of Object.entries(SYSMON_EVENTS)) {
    const extra = id === '12' ? ['(`registry.delete` when `EventType` is `DeleteKey` or `DeleteValue`)'] : [];
    lines.push(...section(`Event ${id}`, m, extra));
  }
  lines.push('## Security, System and PowerShell', '');
  for (const [id, m] of Object.entries(WINDOWS_EVENTS)) {
    lines.push(...section(`Event ${id}`, m, ['', `Channels: ${m.channels.map((c) => '`' + c + '`').join(', ')}`]));
  }
  lines.push(
    '## Everything else',
    '',
    'Type: `windows.event`. Fields: `time`, `host.name` and `raw.*` as above.',
    '',
  );
  return lines.join('\n');
}
