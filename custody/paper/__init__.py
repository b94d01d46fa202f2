"""Paper: custodian and summary sheets rendered to PDF, scanned back, and self-tested.

The wire formats a sheet carries live in `custody.formats.papertext` and `custody.formats.qr`;
this package lays them out on A4 (`render`), reads pages and images back (`scan`) and refuses
to hand out a sheet that does not read back to what it was rendered from (`selftest`).
Importing the package is cheap: reportlab, pypdfium2 and zxing-cpp load with the modules
that need them.
"""
