/* Prints the x64 sizes and offsets of the structs driver/ffi/windows defines, as the mingw
 * headers lay them out, so the Wine test compares koffi's definitions with the C compiler's. */
#include <windows.h>
#include <tlhelp32.h>
#include <stddef.h>
#include <stdio.h>

#define F(s, f) printf(",\"%s.%s\":%u", #s, #f, (unsigned)offsetof(s, f))

int wmain(void) {
  printf("{\"FILETIME\":%u", (unsigned)sizeof(FILETIME));
  F(FILETIME, dwHighDateTime);
  printf(",\"PROCESSENTRY32W\":%u", (unsigned)sizeof(PROCESSENTRY32W));
  F(PROCESSENTRY32W, th32ProcessID);
  F(PROCESSENTRY32W, th32DefaultHeapID);
  F(PROCESSENTRY32W, cntThreads);
  F(PROCESSENTRY32W, th32ParentProcessID);
  F(PROCESSENTRY32W, pcPriClassBase);
  F(PROCESSENTRY32W, szExeFile);
  printf(",\"THREADENTRY32\":%u", (unsigned)sizeof(THREADENTRY32));
  F(THREADENTRY32, th32ThreadID);
  F(THREADENTRY32, th32OwnerProcessID);
  F(THREADENTRY32, dwFlags);
  printf("}\n");
  return 0;
}
