"""Vigil platform pieces shared by every layer: state location, database, command line."""
