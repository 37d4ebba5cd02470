"""`fakescope serve`: web page and REST API (app.py), SQLite scan store (db.py), scan workers (worker.py).

Nothing is imported here, so `python -m fakescope.server.worker` starts without loading the web app.
"""
