"""The .agq grammar, shipped inside the installed package as ``agqc.grammar``."""
