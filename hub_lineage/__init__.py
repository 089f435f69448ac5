"""hub-lineage: predict a language model's benchmark scores from its lineage (LRMF).

Import light: submodules are imported where they are used, so the CLI's fast paths stay fast.
"""

__version__ = "0.1.0"
