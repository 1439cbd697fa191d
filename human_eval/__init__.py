"""Human evaluation (installed as ``ibench.human_eval``): blind rating app, rating store, agreement.

Modules: ``store`` (tables, engines), ``assignment`` (studies from runs), ``ratings`` (what a rater
does), ``rubric`` (ImagenHub's SC/PQ definitions), ``agreement`` (Fleiss' kappa, Krippendorff's
alpha), ``aggregate`` (per task x model scores: the reports' API), ``imagenhub`` (raw TSV format),
``export``, ``monitor`` (admin views), ``page_rate`` / ``page_admin`` / ``app`` (Streamlit).
"""
