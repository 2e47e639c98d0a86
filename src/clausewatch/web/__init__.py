"""The web site and the JSON API: server-rendered pages and `/api/v1`, both over the read
functions of :mod:`clausewatch.provisions.queries` and :mod:`clausewatch.analysis.queries`."""

from clausewatch.web.app import create_app

__all__ = ["create_app"]
