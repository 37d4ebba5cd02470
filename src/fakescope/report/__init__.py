"""Rendering scan results for people: the terminal summary (and, later, HTML)."""
