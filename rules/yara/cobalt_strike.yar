/*
 * Cobalt Strike beacon configuration in memory. A beacon keeps its settings as a table of
 * (id, type, length) entries obfuscated with a one-byte XOR: 0x69 in version 3, 0x2e in
 * version 4. The first entries are always the same (setting 1 "protocol", a short; setting 2
 * "port", a short; setting 3 "sleep time", an int), so the XORed header is a stable marker,
 * the one public beacon-config parsers look for.
 */

rule CobaltStrike_Beacon_Config_v3
{
    meta:
        description = "Cobalt Strike version 3 beacon settings table (XOR 0x69): entries 1 and 2 as shorts, entry 3 as an int"
        verdict = "malicious"
        attack = "T1071.001"
    strings:
        $cfg = { 69 68 69 68 69 6B 69 68 69 6B 69 6B 69 69 69 6B 69 6A 69 69 }
    condition:
        $cfg
}

rule CobaltStrike_Beacon_Config_v4
{
    meta:
        description = "Cobalt Strike version 4 beacon settings table (XOR 0x2e): entries 1 and 2 as shorts, entry 3 as an int"
        verdict = "malicious"
        attack = "T1071.001"
    strings:
        $cfg = { 2E 2F 2E 2F 2E 2C 2E 2F 2E 2C 2E 2C 2E 2E 2E 2C 2E 2D 2E 2E }
    condition:
        $cfg
}

rule CobaltStrike_Beacon_Reflective_Loader_Strings
{
    meta:
        description = "Strings of an unobfuscated beacon DLL loaded in memory: its pipe-name format and its default user-agent marker"
        verdict = "suspicious"
        attack = "T1620"
    strings:
        $pipe = "\\\\.\\pipe\\MSSE-%d-server" ascii wide
        $post = "%s as %s\\%s: %d" ascii
        $beacon = "beacon.x64.dll" ascii
    condition:
        2 of them
}
