"""The mark every tiny random extractor carries in its id (``ibench.evaluators.tiny`` marks the folders
it saves), so results and reports can say loudly that their scores are meaningless."""

TINY_MARK = "ibench-tiny"


def is_tiny(extractor_id: str) -> bool:
    """Whether an extractor id is one of ``ibench.evaluators.tiny``'s random extractors."""
    return TINY_MARK in str(extractor_id)
