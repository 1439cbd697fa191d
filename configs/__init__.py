"""Model configs shipped with ibench (``--model-config NAME``); installed as ``ibench.configs``."""
