"""The dashboard's single entry point: `streamlit run app.py`."""

import streamlit as st

st.set_page_config(page_title="Bayesian CNN tuner", page_icon=":material/insights:", layout="wide")

pages = [
    st.Page("pages/tune.py", title="Tune", icon=":material/tune:", default=True),
    st.Page("pages/live.py", title="Live", icon=":material/monitoring:"),
    st.Page("pages/studies.py", title="Studies", icon=":material/folder_open:"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
]
st.navigation(pages).run()
