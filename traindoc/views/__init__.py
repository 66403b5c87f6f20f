"""View-models of the dashboard: what each page shows, computed (and cached) outside ``pages/``.

Pages stay thin: they lay out widgets and call these. Everything here takes a database path
or a Store and returns plain data (frames, dicts, strings), so it is tested without a browser.
"""
