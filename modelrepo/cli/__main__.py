"""`python -m modelrepo.cli`: the modelrepo command."""

from modelrepo.cli import main

main()
