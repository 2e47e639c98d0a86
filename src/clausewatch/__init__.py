"""clausewatch: an evidence-grade archive of platform governance documents."""

__version__ = "0.1.0"
