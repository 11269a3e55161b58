#!/usr/bin/env python3
"""Read a pcapng file as tcspan tap writes it: print one line per interface
description block, "NAME PACKETS" (if_name and how many enhanced packet
blocks name that interface), in file order.  Exits 1 on a malformed file."""
import struct
import sys


def main(path):
    data = open(path, "rb").read()
    names, counts, off = [], [], 0
    while off < len(data):
        if off + 12 > len(data):
            sys.exit("truncated block at %d" % off)
        btype, blen = struct.unpack_from("<II", data, off)
        if blen < 12 or blen % 4 or off + blen > len(data) or \
                struct.unpack_from("<I", data, off + blen - 4)[0] != blen:
            sys.exit("bad block length at %d" % off)
        if btype == 0x0A0D0D0A and struct.unpack_from("<I", data, off + 8)[0] != 0x1A2B3C4D:
            sys.exit("not a little-endian section")
        if btype == 1:
            name, opt = "?", off + 16
            while opt < off + blen - 4:
                code, olen = struct.unpack_from("<HH", data, opt)
                if code == 0:
                    break
                if code == 2:
                    name = data[opt + 4:opt + 4 + olen].decode()
                opt += 4 + ((olen + 3) & ~3)
            names.append(name)
            counts.append(0)
        elif btype == 6:
            iface = struct.unpack_from("<I", data, off + 8)[0]
            if iface >= len(names):
                sys.exit("packet of unknown interface %d" % iface)
            counts[iface] += 1
        off += blen
    for name, count in zip(names, counts):
        print(name, count)


if __name__ == "__main__":
    main(sys.argv[1])
