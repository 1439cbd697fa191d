"""The regression gate, a stage of its own after scoring: ``ibench baseline`` records a scored run
(``baseline``), ``ibench check`` compares a run with it (``rule``: tolerances, the paired test, coverage;
``check``: a whole run; ``output``: markdown and JUnit), ``ibench compare`` sets two runs side by side
(``compare``). It reads runs as reports do (``ibench.report.runs``) and results.json through the
evaluators' one reader (``ibench.evaluators.results.load_results``)."""
