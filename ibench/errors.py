"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class IbenchError(Exception):
    """A problem with the user's input or environment, explained in one line."""


def one_line(message: str) -> str:
    """Collapse a message to one line (pydantic and YAML errors span several)."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())
