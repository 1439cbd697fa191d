"""``python -m ibench``: the same as the ``ibench`` command."""

from ibench.cli import main

main()
