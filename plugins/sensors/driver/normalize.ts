/**
 * Driver records → Vigil events, through the Windows normalizer (lib/windows) with the Sysmon
 * event IDs and field names of the equivalent events (1, 5, 7, 8, 10), so rules written for
 * Sysmon (the lsass sequence) fire on driver events too. The driver's own facts (requested,
 * granted, stripped rights, mode, sequence number) are added under access.* and raw.driver.
 *
 * Identity: a process is its pid and creation time (FILETIME); its guid is made of both, so
 * a reused pid is another process.
 */
import type { EventDraft } from '../../../core/index.js';
import { SYSMON_CHANNEL, normalizeWindowsEvent } from '../../../lib/windows/index.js';
import { C } from '../../../driver/protocol/protocol.js';
import type { DriverRecord } from '../../../driver/protocol/records.js';

/** FILETIME ticks (100 ns since 1601) at the Unix epoch. */
const EPOCH_FILETIME = 116444736000000000n;

export function filetimeToMs(ft: bigint): number {
  return ft === 0n ? 0 : Number((ft - EPOCH_FILETIME) / 10_000n);
}

/** The guid of a process: pid and creation time, Sysmon's brace form. */
export function processGuid(pid: number, createTime: bigint): string {
  return `{vigil-${pid.toString(16)}-${createTime.toString(16)}}`;
}

/** What the sensor remembers of processes it saw start, to name images the record lacks. */
export interface ImageLookup {
  image(pid: number, createTime: bigint): string | undefined;
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

function sysmon(eventId: number, time: number, data: Record<string, unknown>): EventDraft {
  return normalizeWindowsEvent({ system: { EventID: eventId, Channel: SYSMON_CHANNEL, Provider_Name: 'Microsoft-Windows-Sysmon', TimeCreated: time }, data });
}

/** The kernel names a process by its short image name; a full path from process.start wins. */
function imageOf(images: ImageLookup, pid: number, ct: bigint, fromRecord: string): string {
  return images.image(pid, ct) ?? fromRecord;
}

/** One record as a Vigil event, or undefined for records that are not events (canary, loss). */
export function normalizeDriverRecord(r: DriverRecord, images: ImageLookup, now: () => number = Date.now): EventDraft | undefined {
  const time = filetimeToMs(r.header.time) || now();
  const driver = { seq: Number(r.header.seq), flags: r.header.flags, synthetic: (r.header.flags & C.RF_SYNTHETIC) !== 0 };
  let ev: EventDraft;
  switch (r.kind) {
    case 'process_start':
      ev = sysmon(1, time, {
        ProcessGuid: processGuid(r.rec.pid, r.rec.create_time),
        ProcessId: String(r.rec.pid),
        Image: r.image,
        CommandLine: r.cmdline,
        ParentProcessGuid: processGuid(r.rec.ppid, r.rec.parent_create_time),
        ParentProcessId: String(r.rec.ppid),
        ParentImage: images.image(r.rec.ppid, r.rec.parent_create_time),
      });
      ev.proc = { ...(ev.proc as object), start_time: filetimeToMs(r.rec.create_time) };
      break;
    case 'process_stop':
      ev = sysmon(5, time, { ProcessGuid: processGuid(r.rec.pid, r.rec.create_time), ProcessId: String(r.rec.pid), Image: images.image(r.rec.pid, r.rec.create_time) });
      ev.raw = { ...(ev.raw as object | undefined), exit_status: r.rec.exit_status };
      break;
    case 'thread_create':
      if ((r.header.flags & C.RF_REMOTE) === 0 || r.rec.creator_pid === r.rec.pid) return undefined;
      ev = sysmon(8, time, {
        SourceProcessGuid: processGuid(r.rec.creator_pid, r.rec.creator_create_time),
        SourceProcessId: String(r.rec.creator_pid),
        SourceImage: images.image(r.rec.creator_pid, r.rec.creator_create_time),
        TargetProcessGuid: processGuid(r.rec.pid, r.rec.create_time),
        TargetProcessId: String(r.rec.pid),
        TargetImage: images.image(r.rec.pid, r.rec.create_time),
        NewThreadId: String(r.rec.tid),
        StartAddress: `0x${r.rec.start_address.toString(16)}`,
      });
      break;
    case 'image_load':
      ev = sysmon(7, time, {
        ProcessGuid: processGuid(r.rec.pid, r.rec.create_time),
        ProcessId: String(r.rec.pid),
        Image: images.image(r.rec.pid, r.rec.create_time),
        ImageLoaded: r.image,
      });
      break;
    case 'handle_access':
      ev = sysmon(10, time, {
        SourceProcessGuid: processGuid(r.rec.caller_pid, r.rec.caller_create_time),
        SourceProcessId: String(r.rec.caller_pid),
        SourceThreadId: String(r.rec.caller_tid),
        SourceImage: imageOf(images, r.rec.caller_pid, r.rec.caller_create_time, r.callerImage),
        TargetProcessGuid: processGuid(r.rec.target_pid, r.rec.target_create_time),
        TargetProcessId: String(r.rec.target_pid),
        TargetImage: imageOf(images, r.rec.target_pid, r.rec.target_create_time, r.targetImage),
        GrantedAccess: hex(r.rec.granted),
      });
      ev.access = {
        ...ev.access,
        desired: r.rec.desired,
        stripped: r.rec.stripped,
        would_strip: r.rec.would_strip,
        mode: r.rec.mode === C.MODE_ENFORCE ? 'enforce' : 'monitor',
        object: r.rec.object_type === C.OBJ_THREAD ? 'thread' : 'process',
        operation: r.rec.operation === C.OP_DUPLICATE ? 'duplicate' : 'create',
      };
      break;
    default:
      return undefined;
  }
  ev.raw = { ...(ev.raw as object | undefined), driver };
  return ev;
}
