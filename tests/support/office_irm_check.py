#!/usr/bin/python3
"""Checks a protected Office document with a reader nobody here wrote.

    office_irm_check.py FILE ORIGINAL_SIZE

Debian's python3-olefile reads the OLE compound file (MS-CFB); this script
then compares its storages and streams with the names and structures of
MS-OFFCRYPTO's IRM data spaces for ECMA-376 documents (1.3.2, 2.1.5-2.1.7,
2.2.6, 2.2.10). Prints "ok" and exits 0, or names the first difference and
exits 1.
"""
import struct
import sys
import zipfile

import olefile

DS = "\x06DataSpaces"
EXPECTED = [
    [DS],
    [DS, "DataSpaceInfo"],
    [DS, "DataSpaceInfo", "DRMEncryptedDataSpace"],
    [DS, "DataSpaceMap"],
    [DS, "TransformInfo"],
    [DS, "TransformInfo", "DRMEncryptedTransform"],
    [DS, "TransformInfo", "DRMEncryptedTransform", "\x06Primary"],
    [DS, "Version"],
    ["EncryptedPackage"],
]


class Reader:
    def __init__(self, name, data):
        self.name, self.data, self.at = name, data, 0

    def fail(self, what):
        sys.exit(f"{self.name}: {what}")

    def u32(self):
        if self.at + 4 > len(self.data):
            self.fail("cut short")
        (v,) = struct.unpack_from("<I", self.data, self.at)
        self.at += 4
        return v

    def unicode_lp_p4(self):  # 2.1.2
        n = self.u32()
        text = self.data[self.at:self.at + n].decode("utf-16-le")
        self.at += (n + 3) // 4 * 4
        return text

    def utf8_lp_p4(self):  # 2.1.3
        n = self.u32()
        text = self.data[self.at:self.at + n]
        self.at += (n + 3) // 4 * 4
        return text

    def versions(self):  # 2.1.4, reader, updater, writer
        got = struct.unpack_from("<6H", self.data, self.at)
        self.at += 12
        if got != (1, 0, 1, 0, 1, 0):
            self.fail(f"versions {got}, not 1.0 1.0 1.0")

    def expect(self, what, got, want):
        if got != want:
            self.fail(f"{what} is {got!r}, not {want!r}")

    def end(self):
        self.expect("length", len(self.data), self.at)


def main(path, original_size):
    if zipfile.is_zipfile(path):
        sys.exit("a ZIP, not a compound file")
    if not olefile.isOleFile(path):
        sys.exit("not an OLE compound file")
    ole = olefile.OleFileIO(path)
    entries = sorted(ole.listdir(streams=True, storages=True))
    if entries != sorted(EXPECTED):
        sys.exit(f"entries {entries!r}, not {sorted(EXPECTED)!r}")
    read = lambda *p: Reader("/".join(p), ole.openstream(list(p)).read())

    v = read(DS, "Version")  # DataSpaceVersionInfo, 2.1.5
    v.expect("FeatureIdentifier", v.unicode_lp_p4(), "Microsoft.Container.DataSpaces")
    v.versions()
    v.end()

    m = read(DS, "DataSpaceMap")  # 2.1.6
    m.expect("HeaderLength", m.u32(), 8)
    m.expect("EntryCount", m.u32(), 1)
    start = m.at
    length = m.u32()
    m.expect("ReferenceComponentCount", m.u32(), 1)
    m.expect("ReferenceComponentType", m.u32(), 0)  # a stream
    m.expect("ReferenceComponent", m.unicode_lp_p4(), "EncryptedPackage")
    m.expect("DataSpaceName", m.unicode_lp_p4(), "DRMEncryptedDataSpace")
    m.expect("entry Length", length, m.at - start)
    m.end()

    d = read(DS, "DataSpaceInfo", "DRMEncryptedDataSpace")  # DataSpaceDefinition, 2.1.7
    d.expect("HeaderLength", d.u32(), 8)
    d.expect("TransformReferenceCount", d.u32(), 1)
    d.expect("TransformReference", d.unicode_lp_p4(), "DRMEncryptedTransform")
    d.end()

    p = read(DS, "TransformInfo", "DRMEncryptedTransform", "\x06Primary")  # IRMDSTransformInfo, 2.2.6
    start = p.at
    length = p.u32()
    p.expect("TransformType", p.u32(), 1)
    p.expect("TransformID", p.unicode_lp_p4(), "{C73DFACD-061F-43B0-8B64-0C620D2A8B50}")
    p.expect("TransformLength", length, p.at - start)
    p.expect("TransformName", p.unicode_lp_p4(), "Microsoft.Metadata.DRMTransform")
    p.versions()
    p.expect("ExtensibilityHeader", p.u32(), 4)
    license = p.utf8_lp_p4()
    p.end()
    text = license.decode("utf-8-sig")
    if not text.startswith(("<?xml", "<XrML")) or "Microsoft Rights Label" not in text:
        p.fail(f"the XrMLLicense is not a publishing license: {text[:80]!r}")

    e = read("EncryptedPackage")  # 2.2.10
    (size,) = struct.unpack_from("<Q", e.data, 0)
    e.expect("Length", size, original_size)
    e.expect("stream size", len(e.data), 8 + (original_size + 15) // 16 * 16)
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
