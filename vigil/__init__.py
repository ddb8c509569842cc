"""Vigil platform pieces shared by every layer: where state lives, the database and its migrations, local services."""
