/* A Windows test process for the Wine tests: sleeps SECONDS with a second thread, after
 * starting CHILDREN copies of itself that do the same with DEPTH-1 (a process tree).
 *   sleeper.exe SECONDS [CHILDREN [DEPTH]] */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

static DWORD WINAPI idle(LPVOID arg) {
  Sleep((DWORD)(UINT_PTR)arg);
  return 0;
}

int wmain(int argc, wchar_t **argv) {
  int secs = argc > 1 ? _wtoi(argv[1]) : 60;
  int kids = argc > 2 ? _wtoi(argv[2]) : 0;
  int depth = argc > 3 ? _wtoi(argv[3]) : 0;
  DWORD ms = (DWORD)secs * 1000;
  HANDLE t = CreateThread(NULL, 0, idle, (LPVOID)(UINT_PTR)ms, 0, NULL);
  if (t) CloseHandle(t);
  if (depth > 0) {
    wchar_t self[MAX_PATH];
    GetModuleFileNameW(NULL, self, MAX_PATH);
    for (int i = 0; i < kids; i++) {
      wchar_t cmd[MAX_PATH + 64];
      _snwprintf(cmd, sizeof cmd / sizeof cmd[0], L"\"%ls\" %d %d %d", self, secs, kids, depth - 1);
      STARTUPINFOW si = {0};
      PROCESS_INFORMATION pi;
      si.cb = sizeof si;
      if (CreateProcessW(self, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
        CloseHandle(pi.hThread);
        CloseHandle(pi.hProcess);
      }
    }
  }
  Sleep(ms);
  return 0;
}
