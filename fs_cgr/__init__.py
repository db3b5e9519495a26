"""fs_cgr: real-time charging and credit control for FreeSWITCH."""

__version__ = "0.1.0"
