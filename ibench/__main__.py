"""``python -m ibench``: the same as the ``ibench`` command."""

from .cli import main

main()
