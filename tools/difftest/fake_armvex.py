#!/usr/bin/env python3
"""A stand-in for armvex, for testing difftest itself: runs QEMU with the
armvex command line shape and injects one fault chosen by $FAKE_MODE:

    reg:N            after log record N, flip bit 0 of r3 in every record
    patch:ADDR:XOR   XOR the instruction word at ADDR in a copy of the ELF
                     (a program too short to reach ADDR runs unchanged)
    garbage          print unparseable output and exit 101
    (unset)          behave exactly like QEMU

Usage: fake_armvex.py run --machine vexpress-a9 --semihosting --kernel X.elf
"""

import os
import struct
import subprocess
import sys
import tempfile


def patch_elf(path: str, addr: int, xor: int) -> str:
    data = bytearray(open(path, "rb").read())
    phoff, = struct.unpack_from("<I", data, 28)
    phentsize, phnum = struct.unpack_from("<HH", data, 42)
    for i in range(phnum):
        p_type, p_off, _, p_paddr, p_filesz = struct.unpack_from(
            "<IIIII", data, phoff + i * phentsize)
        if p_type == 1 and p_paddr <= addr < p_paddr + p_filesz:
            off = p_off + addr - p_paddr
            word, = struct.unpack_from("<I", data, off)
            struct.pack_into("<I", data, off, word ^ xor)
            break
    else:
        return path  # not in this (shorter) program: nothing to patch
    fd, out = tempfile.mkstemp(suffix=".elf")
    os.write(fd, data)
    os.close(fd)
    return out


def main() -> int:
    elf = sys.argv[sys.argv.index("--kernel") + 1]
    mode = os.environ.get("FAKE_MODE", "")
    if mode == "garbage":
        print("LOG\ngarbage")
        return 101
    patched = None
    if mode.startswith("patch:"):
        _, addr, xor = mode.split(":")
        elf = patched = patch_elf(elf, int(addr, 16), int(xor, 16))
    try:
        r = subprocess.run(
            ["qemu-system-arm", "-M", "vexpress-a9", "-display", "none",
             "-monitor", "none", "-serial", "none", "-semihosting",
             "-kernel", elf],
            capture_output=True, text=True,
            env=dict(os.environ, QEMU_AUDIO_DRV="none"))
    finally:
        if patched and patched != sys.argv[sys.argv.index("--kernel") + 1]:
            os.unlink(patched)
    out = r.stdout
    if mode.startswith("reg:"):
        n = int(mode.split(":")[1])
        lines = out.split("\n")
        first = lines.index("LOG") + 1
        for j in range(first + n, lines.index("MEM")):
            words = lines[j].split()
            words[3] = f"{int(words[3], 16) ^ 1:08x}"
            lines[j] = " ".join(words)
        out = "\n".join(lines)
    sys.stdout.write(out)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
