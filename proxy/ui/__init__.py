"""The dashboard at `/` and the interactive API docs at `/docs`, both served from files
shipped in this package (no CDN, no build step).

The dashboard is one static page and a small script that calls the JSON API with the
key kept in the tab's sessionStorage, sent as `Authorization: Bearer`: it holds no
logic of its own about privacy, budgets or data, so every front end shares one pipeline.
A strict Content-Security-Policy (scripts and connections to this origin only) keeps
other sites from reading the key and the page from loading anything from elsewhere.
"""

from __future__ import annotations

from .serve import install

__all__ = ["install"]
