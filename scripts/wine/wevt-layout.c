/* Prints the x64 size and offsets of EVT_VARIANT and SYSTEMTIME as the mingw headers lay them
 * out, so the Wine test compares driver/ffi/windows/wevtapi.ts's table with the C compiler's. */
#include <windows.h>
#include <winevt.h>
#include <stddef.h>
#include <stdio.h>

int wmain(void) {
  printf("{\"EVT_VARIANT\":%u", (unsigned)sizeof(EVT_VARIANT));
  printf(",\"EVT_VARIANT.Count\":%u", (unsigned)offsetof(EVT_VARIANT, Count));
  printf(",\"EVT_VARIANT.Type\":%u", (unsigned)offsetof(EVT_VARIANT, Type));
  printf(",\"SYSTEMTIME\":%u", (unsigned)sizeof(SYSTEMTIME));
  printf(",\"SYSTEMTIME.wDay\":%u", (unsigned)offsetof(SYSTEMTIME, wDay));
  printf(",\"SYSTEMTIME.wMilliseconds\":%u", (unsigned)offsetof(SYSTEMTIME, wMilliseconds));
  printf(",\"GUID\":%u", (unsigned)sizeof(GUID));
  printf(",\"GUID.Data4\":%u", (unsigned)offsetof(GUID, Data4));
  printf("}\n");
  return 0;
}
