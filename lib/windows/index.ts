/** Windows event knowledge shared by the Windows sensors, replay and the Sigma importer. */
export {
  SYSMON_CHANNEL,
  SYSMON_EVENTS,
  WINDOWS_EVENTS,
  parseFieldSpec,
  type ChannelEventMap,
  type FieldKind,
} from './field-map.js';
export {
  GENERIC_WINDOWS_TYPE,
  normalizeWindowsEvent,
  windowsEventType,
  windowsEventTypes,
  type WindowsRecord,
  type WindowsSystem,
} from './normalize.js';
export { baseName, parseUtcTime, toBool, toHashes, toHex, toInt, toStr, toTime, CONVERTERS, type Converter } from './convert.js';
export { WindowsRecordError, windowsRecordFromEventObject, windowsRecordFromEvtxJson } from './event-object.js';
export { EventXmlSplitter, parseEventXml, parseOneEventXml, type EventXmlChunk } from './event-xml.js';
export { renderWindowsMappingDoc } from './mapping-doc.js';
