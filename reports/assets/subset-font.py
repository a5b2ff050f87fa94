#!/usr/bin/env python3
"""Makes reports/assets/dxsim-sans.otf: Noto Sans CJK JP (SIL OFL 1.1) cut down to the characters
the reports draw, so every report renders its text without system fonts.

Needs Debian's fonts-noto-cjk (or its NotoSansCJK-Regular.ttc) and fontTools (pip install
fonttools). Run from the repository root after adding Japanese text to reports/src:

    python3 reports/assets/subset-font.py [path/to/NotoSansCJK-Regular.ttc]

The characters kept: printable ASCII, Latin-1, common punctuation and symbols, all kana, and
every other character that appears in reports/src, sim/conformance/src (the checks' titles and
rules, which the report shows) and reference-impl/protocol/src/wire/guides (the guides' rules,
whose fixed values the generated checks quote). The font's test in reports/src/font.rs fails
when a term uses a character the subset lacks.
"""
import pathlib
import sys

from fontTools import subset
from fontTools.ttLib import TTCollection

SOURCE = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
OUT = pathlib.Path("reports/assets/dxsim-sans.otf")

chars = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))
chars |= set(range(0x3000, 0x3040)) | set(range(0x3040, 0x30A0)) | set(range(0x30A0, 0x3100))
chars |= set(range(0xFF01, 0xFF5F))
chars |= {ord(c) for c in "–—‘’“”•…‰′″→←↑↓−±×÷≤≥≈≠∞µ°·"}
# The report's own text, and the conformance checks' titles and rules, which it shows.
SOURCES = ["reports/src", "sim/conformance/src", "reference-impl/protocol/src/wire/guides"]
for path in [p for d in SOURCES for p in pathlib.Path(d).rglob("*.rs")]:
    chars |= {ord(c) for c in path.read_text(encoding="utf-8") if ord(c) > 0x7F}

collection = TTCollection(SOURCE)
font = next(f for f in collection.fonts if f["name"].getDebugName(4) == "Noto Sans CJK JP")
options = subset.Options()
options.layout_features = ["kern", "palt"]
options.name_IDs = ["*"]
options.notdef_outline = True
subsetter = subset.Subsetter(options)
subsetter.populate(unicodes=sorted(chars))
subsetter.subset(font)
# The subset is a new font: its family name says so, as the OFL asks of modified versions.
for record in font["name"].names:
    if record.nameID in (1, 4, 16):
        record.string = "dxsim sans"
    elif record.nameID == 6:
        record.string = "dxsim-sans"
font.save(OUT)
print(f"{OUT}: {OUT.stat().st_size} bytes, {len(chars)} characters asked for")
