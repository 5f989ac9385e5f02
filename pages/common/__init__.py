"""Streamlit glue the pages share, one module per concern: the study registry
(:mod:`.registry`), data and uploads (:mod:`.data`), figures (:mod:`.figures`), the
Tune form (:mod:`.forms`) and small widgets (:mod:`.widgets`).

Long-lived objects live in ``st.cache_resource``; per-user choices in ``st.session_state``.
"""
