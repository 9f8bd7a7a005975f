"""Tracker folders used only by tests (see toyblob/)."""
