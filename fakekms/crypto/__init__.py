"""Crypto backends. The software backend (``cryptography``) is the default."""
