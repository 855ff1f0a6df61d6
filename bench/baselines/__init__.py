"""Servers the harness compares the repository's models against."""
