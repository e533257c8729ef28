#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/seeds/<target>/ (committed; rerun only to change them).

Needs `minisign` (signs the bundle seeds with a fresh test key whose public half is kept as
seeds/fuzz-key.pub and whose secret half is thrown away) and `go` (builds a real binary whose
build info is cut out and placed into minimal ELF, Mach-O and PE containers). Everything else
is written from the formats the tests use. Output is deterministic except the test key.
"""

import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
SHA = "ab" * 32


def put(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def release(version, target, binaries, packages=None, glibc=None):
    r = {
        "version": version,
        "target": target,
        "archive": f"archives/crates/qi-hello/{version}/qi-hello-{version}-{target}.tar.gz",
        "sha256": SHA,
        "size": 1234,
        "binaries": binaries,
        "recipe": 1,
        "provenance": {
            "source_checksum": "cd" * 32,
            "built_at": "2026-11-25T00:00:00Z",
            "toolchain": "rustc 1.95.0",
        },
    }
    if packages:
        r["packages"] = packages
    if glibc:
        r["min_glibc"] = glibc
    return r


def index_files():
    crate = {
        "v": 1,
        "kind": "crate",
        "name": "qi-hello",
        "releases": [
            release("0.2.0", "x86_64-unknown-linux-musl", ["qi-hello", "qi-hello-admin"]),
            release("0.1.0", "aarch64-unknown-linux-gnu", ["qi-hello"], glibc="2.17"),
            release("0.3.0-rc.1", "x86_64-unknown-linux-musl", ["qi-hello"]),
        ],
    }
    go = {
        "v": 1,
        "kind": "go",
        "name": "example.com/qitool",
        "releases": [
            dict(
                release(
                    "v1.1.0",
                    "x86_64-unknown-linux-musl",
                    ["qi-alpha", "qi-beta"],
                    packages={
                        "qi-alpha": "example.com/qitool/cmd/qi-alpha",
                        "qi-beta": "example.com/qitool/cmd/qi-beta",
                    },
                ),
                archive="https://example.com/qitool-v1.1.0.tar.gz",
            )
        ],
    }
    extra = json.loads(json.dumps(crate))
    extra["future"] = {"a": [1, 2.5, None, True]}
    extra["releases"][0]["signed_by_ci"] = True
    extra["releases"][0]["provenance"]["runner"] = "ubuntu"
    bad = json.loads(json.dumps(crate))
    bad["releases"][0]["binaries"] = ["../evil"]
    return {
        "crate.json": json.dumps(crate, indent=2) + "\n",
        "go.json": json.dumps(go, indent=2) + "\n",
        "extra-fields.json": json.dumps(extra),
        "bad-binary.json": json.dumps(bad),
        "newer.json": json.dumps(dict(crate, v=2)),
        "empty.json": '{"v":1,"kind":"crate","name":"qi-hello","releases":[]}',
    }


def signed_bundles(files):
    tmp = tempfile.mkdtemp()
    try:
        pub, sec = os.path.join(tmp, "k.pub"), os.path.join(tmp, "k.key")
        subprocess.run(["minisign", "-G", "-W", "-p", pub, "-s", sec], check=True,
                       stdout=subprocess.DEVNULL)
        shutil.copy(pub, os.path.join(SEEDS, "fuzz-key.pub"))

        def sign(data, path, ts=1764547200):
            m = os.path.join(tmp, "m")
            with open(m, "wb") as f:
                f.write(data)
            comment = f"quickinstall-index v1 path={path} timestamp={ts}"
            subprocess.run(["minisign", "-S", "-s", sec, "-m", m, "-t", comment,
                            "-x", m + ".minisig"], check=True, stdout=subprocess.DEVNULL)
            with open(m + ".minisig", "rb") as f:
                sig = f.read()
            return sig.rstrip(b"\n") + b"\n" + data

        path = "crates/qi/-h/qi-hello.json"
        put("signed_bundle", "good", sign(files["crate.json"].encode(), path))
        put("signed_bundle", "other-path", sign(files["crate.json"].encode(), "crates/2/qi.json"))
        put("signed_bundle", "tampered", sign(files["crate.json"].encode(), path)
            .replace(b"0.2.0", b"0.9.0"))
        put("signed_bundle", "unsigned", files["crate.json"])
    finally:
        shutil.rmtree(tmp)


def sparse_index():
    def line(vers, yanked=False, name="qi-hello"):
        return json.dumps({"name": name, "vers": vers, "deps": [], "cksum": "cd" * 32,
                           "features": {}, "yanked": yanked, "v": 2})

    body = "\n".join([line("0.1.0"), line("0.2.0"), line("0.3.0-rc.1"), line("0.2.1", True),
                      "not json", line("9.9.9", name="other")]) + "\n"
    put("sparse_index", "any", "qi-hello\n*\n" + body)
    put("sparse_index", "exact", "qi-hello\n0.2.0\n" + body)
    put("sparse_index", "caret", "QI-hello\n^0.1\n" + body)
    put("sparse_index", "pre", "qi-hello\n=0.3.0-rc.1\n" + body)


def targz(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.mode = 0o755
            info.type = kind
            if kind == tarfile.SYMTYPE or kind == tarfile.LNKTYPE:
                info.linkname = data.decode()
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data) if data else None)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def archives():
    f = tarfile.REGTYPE
    elf = b"\x7fELF" + b"\x00" * 60
    put("unpack", "both", targz([("qi-hello", f, elf), ("qi-hello-admin", f, elf),
                                 ("LICENSE", f, b"MIT\n")]))
    put("unpack", "one", targz([("qi-hello", f, elf)]))
    put("unpack", "symlink", targz([("qi-hello", tarfile.SYMTYPE, b"/bin/sh")]))
    put("unpack", "hardlink", targz([("qi-hello", f, elf), ("qi-hello-admin", tarfile.LNKTYPE,
                                                              b"qi-hello")]))
    put("unpack", "traversal", targz([("../qi-hello", f, elf)]))
    put("unpack", "nested", targz([("bin/", tarfile.DIRTYPE, b""), ("bin/qi-hello", f, elf)]))
    put("unpack", "duplicate", targz([("qi-hello", f, elf), ("QI-HELLO", f, elf)]))
    put("unpack", "fifo", targz([("qi-hello", tarfile.FIFOTYPE, b"")]))
    put("unpack", "long-name", targz([("qi-hello", f, elf), ("L" * 150, f, b"x")]))


# ---- Go build info -------------------------------------------------------------------------

MAGIC = b"\xff Go buildinf:"


def uvarint(data, at):
    value = shift = 0
    while True:
        b = data[at]
        at += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, at


def cut_blob(binary):
    """The header and the two inline strings, as the linker wrote them."""
    at = 0
    while True:
        at = binary.index(MAGIC, at)
        if at % 16 == 0:
            break
        at += 1
    end = at + 32
    for _ in range(2):
        n, end = uvarint(binary, end)
        end += n
    return binary[at:end]


def build_go(tmp, flags):
    os.makedirs(os.path.join(tmp, "cmd/hello"), exist_ok=True)
    with open(os.path.join(tmp, "go.mod"), "w") as f:
        f.write("module example.com/hello\n\ngo 1.18\n")
    with open(os.path.join(tmp, "cmd/hello/main.go"), "w") as f:
        f.write('package main\n\nfunc main() { println("hello") }\n')
    out = os.path.join(tmp, "hello")
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod", GOPROXY="off",
               GOOS="linux", GOARCH="amd64")
    subprocess.run(["go", "build", *flags, "-o", out, "./cmd/hello"], cwd=tmp, env=env,
                   check=True)
    with open(out, "rb") as f:
        return f.read()


def pad16(b):
    return b + b"\x00" * (-len(b) % 16)


def elf(blob, wide, big):
    e = ">" if big else "<"
    names = b"\x00.go.buildinfo\x00.shstrtab\x00"
    ehsize, shentsize = (64, 64) if wide else (52, 40)
    data_off = 64
    names_off = data_off + len(pad16(blob))
    shoff = names_off + len(pad16(names))
    ident = b"\x7fELF" + bytes([2 if wide else 1, 2 if big else 1, 1]) + b"\x00" * 9
    if wide:
        head = ident + struct.pack(e + "HHIQQQIHHHHHH", 2, 62, 1, 0, 0, shoff, 0, ehsize, 56,
                                   0, shentsize, 3, 2)
    else:
        head = ident + struct.pack(e + "HHIIIIIHHHHHH", 2, 3, 1, 0, 0, shoff, 0, ehsize, 32,
                                   0, shentsize, 3, 2)
    head = head.ljust(data_off, b"\x00")

    def sh(name, kind, off, size):
        if wide:
            return struct.pack(e + "IIQQQQIIQQ", name, kind, 3, 0, off, size, 0, 0, 16, 0)
        return struct.pack(e + "IIIIIIIIII", name, kind, 3, 0, off, size, 0, 0, 16, 0)

    table = sh(0, 0, 0, 0) + sh(1, 1, data_off, len(blob)) + sh(15, 3, names_off, len(names))
    return head + pad16(blob) + pad16(names) + table


def macho(blob):
    data_off = 32 + 72 + 80
    data_off += -data_off % 16
    section = struct.pack("<16s16sQQIIIIIIII", b"__go_buildinfo", b"__DATA", 0x1000,
                          len(blob), data_off, 4, 0, 0, 0, 0, 0, 0)
    segment = struct.pack("<II16sQQQQIIII", 0x19, 72 + 80, b"__DATA", 0x1000, 0x1000,
                          data_off, len(blob), 3, 3, 1, 0)
    head = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x0100000C, 0, 2, 1, 72 + 80, 0, 0)
    out = head + segment + section
    return out.ljust(data_off, b"\x00") + blob


def pe(blob):
    lfanew = 0x40
    mz = b"MZ".ljust(0x3C, b"\x00") + struct.pack("<I", lfanew)
    coff = b"PE\x00\x00" + struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 0, 0x22)
    data_off = lfanew + len(coff) + 40
    data_off += -data_off % 16
    section = struct.pack("<8sIIIIIIHHI", b".data", len(blob), 0x1000, len(blob), data_off,
                          0, 0, 0, 0, 0xC0000040)
    return (mz + coff + section).ljust(data_off, b"\x00") + blob


def go_binaries():
    tmp = tempfile.mkdtemp()
    try:
        recipe = ["-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid=", "-tags",
                  "netgo,osusergo"]
        with_recipe = cut_blob(build_go(tmp, recipe))
        plain = cut_blob(build_go(tmp, ["-buildvcs=false"]))
    finally:
        shutil.rmtree(tmp)
    put("go_buildinfo", "elf64le", elf(with_recipe, True, False))
    put("go_buildinfo", "elf32be", elf(plain, False, True))
    put("go_buildinfo", "macho64", macho(with_recipe))
    put("go_buildinfo", "pe", pe(plain))
    put("go_buildinfo", "scan", b"#!/bin/sh\n".ljust(32, b" ") + with_recipe)
    old = bytearray(with_recipe)
    old[15] = 0  # flags: pointer format
    put("go_buildinfo", "too-old", b"\x00" * 16 + bytes(old))


def trackers():
    id1 = f"qi-hello 0.1.0 ({CRATES_IO})"
    id2 = "ripgrep 14.1.0 (sparse+http://127.0.0.1:1234/index/)"
    v1 = f'[v1]\n"{id1}" = [\n    "qi-hello",\n    "qi-hello-admin",\n]\n"{id2}" = ["rg"]\n'

    def info(bins, **kw):
        d = {"version_req": None, "bins": bins, "features": [], "all_features": False,
             "no_default_features": False, "profile": "release",
             "target": "x86_64-unknown-linux-gnu", "rustc": "rustc 1.95.0 (abc 2026-01-01)"}
        d.update(kw)
        return d

    v2 = json.dumps({"installs": {id1: info(["qi-hello", "qi-hello-admin"]),
                                  id2: info(["rg"], version_req="^14", future=1)},
                     "other": [1]})
    put("cargo_tracker", "both", v1 + "\0" + v2)
    put("cargo_tracker", "v1-only", v1)
    put("cargo_tracker", "v2-only", "\0" + v2)
    put("cargo_tracker", "unknown-keys", v1 + "[other]\nx = 1\n\0" + v2)
    put("cargo_tracker", "git-source",
        '[v1]\n"tool 1.0.0 (git+https://example.com/tool#0123abcd)" = ["tool"]\n')
    # The version the target installs, already recorded with one more binary: as in cargo,
    # the reinstall adds to its binaries rather than replacing them.
    put("cargo_tracker", "same-package-more-bins",
        f'[v1]\n"qi-hello 0.2.0 ({CRATES_IO})" = [\n    "qi-hello",\n    "qi-hello-admin",\n]\n')


def pings():
    good = {"kind": "crate", "name": "ripgrep", "version": "14.1.0",
            "target": "x86_64-unknown-linux-musl", "outcome": "prebuilt",
            "client": "cargo-quickinstall", "client_version": "0.1.0"}
    go = dict(good, kind="go", name="github.com/junegunn/fzf", version="v0.56.3",
              client="gquick", outcome="fallback-built")
    put("stats_ping", "crate", json.dumps(good))
    put("stats_ping", "go", json.dumps(go))
    put("stats_ping", "extra", json.dumps(dict(good, ip="1.2.3.4")))
    put("stats_ping", "counts", "since=2026-01-02&kind=go")


def main():
    shutil.rmtree(SEEDS, ignore_errors=True)
    os.makedirs(SEEDS)
    files = index_files()
    for name, data in files.items():
        put("index_file", name, data)
    signed_bundles(files)
    sparse_index()
    archives()
    go_binaries()
    trackers()
    pings()


if __name__ == "__main__":
    main()
