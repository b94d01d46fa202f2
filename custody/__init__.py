"""custody: offline key custody for SPIKE root-key shards.

The package is a typed library with a thin command line (`custody.cli`). Importing it is
cheap on purpose: heavy modules are imported by the commands that need them.
"""

__version__ = "0.1.0"
