/*
 * Generic shellcode stubs as they sit in memory once injected: the opening bytes of widely
 * published payloads (Metasploit's stagers, the classic x86-64 Linux execve and reverse
 * shell stubs). They are short on purpose: these rules run over flagged memory regions
 * (anonymous executable, W+X, deleted or memfd mappings), not over every file on disk.
 */

rule Shellcode_Linux_x64_Execve_BinSh
{
    meta:
        description = "x86-64 Linux stub that builds the string /bin//sh in a register and calls execve through syscall: the shape of most public execve shellcode"
        verdict = "malicious"
        attack = "T1055"
    strings:
        // mov rbx|rdi|rax, "/bin//sh" (8 bytes, the double slash pads it to a quad word)
        $binsh = { 48 B? 2F 62 69 6E 2F 2F 73 68 }
        // mov al|eax, 59 (execve) ... syscall
        $execve = { ( B0 3B | 6A 3B 58 ) [0-8] 0F 05 }
    condition:
        $binsh and $execve
}

rule Shellcode_Linux_x64_Reverse_Shell_Socket
{
    meta:
        description = "x86-64 Linux reverse shell stub: socket(AF_INET, SOCK_STREAM, 0) set up with push/pop and called through syscall, then connect and dup2, as Metasploit's linux/x64/shell_reverse_tcp and its many copies do"
        verdict = "malicious"
        attack = "T1059.004"
    strings:
        // push 41 (socket); pop rax; cdq; push 2; pop rdi; push 1; pop rsi; syscall
        $socket = { 6A 29 58 99 6A 02 5F 6A 01 5E 0F 05 }
        // push 33 (dup2); pop rax ... syscall
        $dup2 = { 6A 21 58 [0-6] 0F 05 }
    condition:
        $socket and $dup2
}

rule Shellcode_Metasploit_Windows_x86_Stager
{
    meta:
        description = "Start of Metasploit's 32-bit Windows stagers: cld, call over the API-hashing block, which walks the PEB (fs:[0x30]) to find kernel32"
        verdict = "malicious"
        attack = "T1055"
    strings:
        $prologue = { FC E8 8? 00 00 00 60 89 E5 31 ( C0 | D2 ) 64 8B ( 50 | 52 ) 30 }
    condition:
        $prologue
}

rule Shellcode_Metasploit_Windows_x64_Stager
{
    meta:
        description = "Start of Metasploit's 64-bit Windows stagers: cld, stack alignment, call over the API-hashing block, which reads the PEB through gs:[0x60]"
        verdict = "malicious"
        attack = "T1055"
    strings:
        $prologue = { FC 48 83 E4 F0 E8 ( C0 | C8 | CC ) 00 00 00 41 51 41 50 52 }
        $peb = { 65 48 8B 52 60 }
    condition:
        $prologue and $peb
}
