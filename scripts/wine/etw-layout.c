/* Prints the x64 sizes and offsets of the ETW / TDH structs driver/ffi/windows/etw.ts reads
 * and writes, as the mingw headers lay them out, so the Wine test compares them with the
 * binding's table and koffi's definitions. */
#include <windows.h>
#include <evntrace.h>
#include <evntcons.h>
#include <tdh.h>
#include <stddef.h>
#include <stdio.h>

#define S(s) printf("%s\"%s\":%u", first ? "{" : ",", #s, (unsigned)sizeof(s)), first = 0
#define F(s, f) printf(",\"%s.%s\":%u", #s, #f, (unsigned)offsetof(s, f))

int wmain(void) {
  int first = 1;
  S(EVENT_TRACE_PROPERTIES);
  F(EVENT_TRACE_PROPERTIES, Wnode.Guid);
  F(EVENT_TRACE_PROPERTIES, Wnode.ClientContext);
  F(EVENT_TRACE_PROPERTIES, Wnode.Flags);
  F(EVENT_TRACE_PROPERTIES, BufferSize);
  F(EVENT_TRACE_PROPERTIES, MinimumBuffers);
  F(EVENT_TRACE_PROPERTIES, MaximumBuffers);
  F(EVENT_TRACE_PROPERTIES, LogFileMode);
  F(EVENT_TRACE_PROPERTIES, FlushTimer);
  F(EVENT_TRACE_PROPERTIES, EventsLost);
  F(EVENT_TRACE_PROPERTIES, RealTimeBuffersLost);
  F(EVENT_TRACE_PROPERTIES, LogFileNameOffset);
  F(EVENT_TRACE_PROPERTIES, LoggerNameOffset);
  S(EVENT_TRACE_LOGFILEW);
  F(EVENT_TRACE_LOGFILEW, LoggerName);
  F(EVENT_TRACE_LOGFILEW, ProcessTraceMode);
  F(EVENT_TRACE_LOGFILEW, BufferCallback);
  F(EVENT_TRACE_LOGFILEW, EventRecordCallback);
  F(EVENT_TRACE_LOGFILEW, Context);
  S(EVENT_HEADER);
  F(EVENT_HEADER, Flags);
  F(EVENT_HEADER, ThreadId);
  F(EVENT_HEADER, ProcessId);
  F(EVENT_HEADER, TimeStamp);
  F(EVENT_HEADER, ProviderId);
  F(EVENT_HEADER, EventDescriptor);
  F(EVENT_HEADER, ActivityId);
  S(EVENT_RECORD);
  F(EVENT_RECORD, ExtendedDataCount);
  F(EVENT_RECORD, UserDataLength);
  F(EVENT_RECORD, ExtendedData);
  F(EVENT_RECORD, UserData);
  F(EVENT_RECORD, UserContext);
  S(TRACE_EVENT_INFO);
  F(TRACE_EVENT_INFO, EventDescriptor);
  F(TRACE_EVENT_INFO, ProviderNameOffset);
  F(TRACE_EVENT_INFO, TaskNameOffset);
  F(TRACE_EVENT_INFO, PropertyCount);
  F(TRACE_EVENT_INFO, TopLevelPropertyCount);
  F(TRACE_EVENT_INFO, EventPropertyInfoArray);
  S(EVENT_PROPERTY_INFO);
  F(EVENT_PROPERTY_INFO, NameOffset);
  F(EVENT_PROPERTY_INFO, nonStructType.InType);
  F(EVENT_PROPERTY_INFO, nonStructType.OutType);
  F(EVENT_PROPERTY_INFO, count);
  F(EVENT_PROPERTY_INFO, length);
  printf("}\n");
  return 0;
}
