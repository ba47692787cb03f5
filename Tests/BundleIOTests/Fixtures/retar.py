#!/usr/bin/env python3
"""Rewrite a bundle (a pax tar) with hostile changes, for Airlock's bad-input tests.

    retar.py IN OUT OPS.json

OPS is a JSON list applied in order to the list of members:
  {"op": "flip", "name": N, "offset": K}            flip one bit of byte K of member N's data
  {"op": "drop", "name": N}                         remove member N
  {"op": "dup", "name": N}                          insert a second copy of N right after it
  {"op": "replace", "name": N, "data_file": P}      replace N's data with the file P
  {"op": "grow", "name": N, "extra": K}             append K bytes to N's data
  {"op": "mode", "name": N, "mode": M}              set N's mode (e.g. 0o4755 = 2541)
  {"op": "rename", "name": N, "to": T}              rename N to T
  {"op": "add", "name": T, "type": "file|dir|symlink|hardlink|chr|blk|fifo",
   "data": "text", "linkname": L, "mode": M, "before": N}   add a member (at the end, or before N)
Every member keeps uid/gid 0 and mtime 0. Written as pax (POSIX.1-2001).
"""
import io
import json
import sys
import tarfile

TYPES = {
    "file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE,
}


def main():
    source, target, ops_path = sys.argv[1:4]
    with open(ops_path) as handle:
        ops = json.load(handle)
    members = []
    with tarfile.open(source, "r:") as archive:
        for info in archive.getmembers():
            data = archive.extractfile(info).read() if info.isfile() else b""
            members.append([info, data])

    def index(name):
        for position, (info, _) in enumerate(members):
            if info.name == name:
                return position
        raise SystemExit(f"retar: no member {name}")

    for op in ops:
        kind = op["op"]
        if kind == "flip":
            position = index(op["name"])
            data = bytearray(members[position][1])
            data[op["offset"]] ^= 0x01
            members[position][1] = bytes(data)
        elif kind == "drop":
            del members[index(op["name"])]
        elif kind == "dup":
            position = index(op["name"])
            info, data = members[position]
            members.insert(position + 1, [tarfile.TarInfo(info.name), data])
            members[position + 1][0].mode = info.mode
        elif kind == "replace":
            with open(op["data_file"], "rb") as handle:
                members[index(op["name"])][1] = handle.read()
        elif kind == "grow":
            members[index(op["name"])][1] += b"\0" * op["extra"]
        elif kind == "mode":
            members[index(op["name"])][0].mode = op["mode"]
        elif kind == "rename":
            members[index(op["name"])][0].name = op["to"]
        elif kind == "add":
            info = tarfile.TarInfo(op["name"])
            info.type = TYPES[op.get("type", "file")]
            info.mode = op.get("mode", 0o644)
            info.linkname = op.get("linkname", "")
            data = op.get("data", "").encode() if info.type == tarfile.REGTYPE else b""
            entry = [info, data]
            if "before" in op:
                members.insert(index(op["before"]), entry)
            else:
                members.append(entry)
        else:
            raise SystemExit(f"retar: unknown op {kind}")

    with tarfile.open(target, "w:", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.pax_headers = {}
            if info.type == tarfile.REGTYPE:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                info.size = 0
                archive.addfile(info)


if __name__ == "__main__":
    main()
