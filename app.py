"""The dashboard's single entry point: `streamlit run app.py`."""

import streamlit as st

st.set_page_config(page_title="Bayesian CNN tuner", page_icon="🎯", layout="wide")

pages = [
    st.Page("pages/tune.py", title="Tune", icon="⚙️", default=True),
    st.Page("pages/live.py", title="Live", icon="📈"),
    st.Page("pages/studies.py", title="Studies", icon="🗂️"),
]
st.navigation(pages).run()
