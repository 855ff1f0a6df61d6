"""Authoring and operations: the modelrepo command, model directories, and running them here.

Nothing in wrappers, which a serving image holds, imports this package."""
