import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../../testing/index.js';
import { EventXmlSplitter, parseEventXml, parseOneEventXml, windowsRecordFromEvtxJson, WindowsRecordError } from '../index.js';

const FIXTURE = join(projectRoot(), 'lib', 'windows', 'test', 'fixtures', 'real-events.xml');
const NS = 'xmlns="http://schemas.microsoft.com/win/2004/08/events/event"';

test('unnamed and repeated Data get numbered names; UserData leaves and attributes are flattened', () => {
  const r = parseOneEventXml(
    `<Event ${NS}><System><Provider Name="MSSQLSERVER"/><EventID Qualifiers="49152">18456</EventID>` +
      `<TimeCreated SystemTime="2021-01-01T00:00:00.000Z"/><Channel>Application</Channel><Computer>SQL1</Computer></System>` +
      `<EventData><Data>sa</Data><Data> Reason: password did not match </Data><Data Name="__proto__">x</Data><Binary>18480000</Binary></EventData>` +
      `<UserData><Op xmlns="urn:x" Kind="7"><Target Path="C:\\a">t</Target><Target>u</Target></Op></UserData></Event>`,
  );
  assert.equal(r.system.EventID, 18456);
  assert.equal(r.system.EventID_Qualifiers, 49152);
  assert.equal(r.system.TimeCreated, Date.UTC(2021, 0, 1));
  assert.equal(r.data['Data'], 'sa');
  assert.equal(r.data['Data1'], ' Reason: password did not match ', 'spaces kept');
  assert.equal(Object.getPrototypeOf(r.data), Object.prototype, 'a field named __proto__ stays a field');
  assert.equal(Object.getOwnPropertyDescriptor(r.data, '__proto__')?.value, 'x');
  assert.equal(r.data['Binary'], '18480000');
  assert.equal(r.data['Target'], 't');
  assert.equal(r.data['Target_Path'], 'C:\\a');
  assert.equal(r.data['Target1'], 'u');
  assert.equal(r.data['Op_Kind'], '7');
  assert.equal(r.data['Op_xmlns'], undefined);
});

test('malformed or incomplete events raise WindowsRecordError with a position', () => {
  assert.throws(() => parseOneEventXml(`<Event ${NS}><System><EventID>1</EventID></Sistem></Event>`), (e: unknown) => e instanceof WindowsRecordError && /line 1, column \d+/.test(e.message));
  assert.throws(() => parseOneEventXml(`<Event ${NS}><System><Channel>x</Channel></System></Event>`), /EventID/);
  assert.throws(() => parseEventXml(`<Event ${NS}><System><EventID>1</EventID></System></Event>\n<Event ${NS}><System>`), /unterminated <Event> at line 2/);
  // The XML library refuses some element names; that must surface as bad input, not a crash.
  assert.throws(() => parseOneEventXml(`<Event ${NS}><System><EventID>1</EventID></System><UserData><__proto__>y</__proto__></UserData></Event>`), WindowsRecordError);
});

test('the splitter finds the same events however the text is cut', () => {
  const text = readFileSync(FIXTURE, 'utf8');
  const whole = parseEventXml(text);
  for (const size of [1, 7, 100, 4096]) {
    const s = new EventXmlSplitter();
    const chunks = [];
    for (let i = 0; i < text.length; i += size) chunks.push(...s.push(text.slice(i, i + size)));
    assert.equal(s.end(), undefined);
    assert.equal(chunks.length, whole.length, `chunk size ${size}`);
    assert.deepEqual(chunks.map((c) => parseOneEventXml(c.xml)), whole);
    assert.equal(text.slice(chunks[1]?.offset, (chunks[1]?.offset ?? 0) + 6), '<Event');
    assert.equal(text.split('\n')[(chunks[1]?.line ?? 0) - 1]?.startsWith('<Event'), true, 'line number points at <Event');
  }
});

test('<Events> wrappers and the evtx_dump JSON layout give the same record', () => {
  const xml = parseEventXml(readFileSync(FIXTURE, 'utf8'));
  const first = xml[1];
  assert.ok(first);
  const wrapped = parseEventXml(`<?xml version="1.0"?><Events>${readFileSync(FIXTURE, 'utf8')}</Events>`);
  assert.deepEqual(wrapped, xml);
  const json = windowsRecordFromEvtxJson({
    Event: {
      System: {
        Provider: { '#attributes': { Name: first.system.Provider_Name, Guid: first.system.Provider_Guid } },
        EventID: first.system.EventID,
        Version: first.system.Version,
        Level: first.system.Level,
        Task: first.system.Task,
        Opcode: first.system.Opcode,
        Keywords: first.system.Keywords,
        TimeCreated: { '#attributes': { SystemTime: '2020-10-05T22:28:20.530062800Z' } },
        EventRecordID: first.system.EventRecordID,
        Execution: { '#attributes': { ProcessID: first.system.Execution_ProcessID, ThreadID: first.system.Execution_ThreadID } },
        Channel: first.system.Channel,
        Computer: first.system.Computer,
        Security: { '#attributes': { UserID: first.system.Security_UserID } },
      },
      EventData: first.data,
    },
  });
  assert.deepEqual(json, first);
  assert.equal(windowsRecordFromEvtxJson({ type: 'process.start' }), undefined);
});
